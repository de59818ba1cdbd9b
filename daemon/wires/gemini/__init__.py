"""The Google Gemini ``generateContent`` wire (Gemini API and Vertex AI)."""
