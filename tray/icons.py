"""Tray icon images, one per gateway state, drawn with Pillow.

Owns the look of the four states — stopped (grey ring), shadow (blue, half filled), live (green,
filled), degraded (amber with a warning bar) — and writing them as PNGs into ``assets/``
(``python -m stackbilt_gateway.tray.icons assets``), where the installers pick up the app icon.
Drawing happens in code so an installed wheel needs no data files. Pillow is imported lazily.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL.Image import Image

IconState = Literal["stopped", "shadow", "live", "degraded"]
STATES: tuple[IconState, ...] = ("stopped", "shadow", "live", "degraded")
APP_ICON_NAME = "stackbilt-gw.png"

_COLORS: dict[IconState, tuple[int, int, int]] = {
    "stopped": (128, 128, 128),
    "shadow": (52, 120, 230),
    "live": (38, 170, 80),
    "degraded": (235, 150, 20),
}
_INK = (255, 255, 255, 255)


def render_icon(state: IconState, size: int = 64) -> Image:
    """The tray image for ``state`` (RGBA, ``size`` x ``size``)."""
    from PIL import Image, ImageDraw

    scale = 4  # draw large, then downsample for smooth edges
    big = size * scale
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    color = (*_COLORS[state], 255)
    pad = big // 16
    box = (pad, pad, big - pad, big - pad)
    ring = big // 10
    if state == "stopped":
        draw.ellipse(box, outline=color, width=ring)
    elif state == "shadow":
        draw.ellipse(box, outline=color, width=ring)
        draw.pieslice(box, 90, 270, fill=color)
    else:
        draw.ellipse(box, fill=color)
    # Live: a bar through the middle (an open gate); degraded: an exclamation mark.
    bar_h = big // 8
    mid = big // 2
    inner = big // 4
    if state == "live":
        draw.rounded_rectangle(
            (inner, mid - bar_h // 2, big - inner, mid + bar_h // 2), radius=bar_h // 2, fill=_INK
        )
    elif state == "degraded":
        w = big // 9
        top, bottom = inner - w // 2, big - inner + w // 2
        draw.rounded_rectangle((mid - w // 2, top, mid + w // 2, bottom - 2 * w), radius=w // 2, fill=_INK)
        draw.ellipse((mid - w // 2, bottom - w, mid + w // 2, bottom), fill=_INK)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def render_app_icon(size: int = 256) -> Image:
    """The application icon (menus, autostart entries): the live look."""
    return render_icon("live", size)


def write_assets(folder: Path) -> list[Path]:
    """Write the app icon and one PNG per state into ``folder``; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / APP_ICON_NAME]
    render_app_icon().save(written[0])
    for state in STATES:
        path = folder / f"tray-{state}.png"
        render_icon(state).save(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("assets")
    for path in write_assets(folder):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
