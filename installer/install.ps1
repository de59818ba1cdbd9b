<#
.SYNOPSIS
  Install StackBilt LLM Gateway for the current user (Windows).
.DESCRIPTION
  Creates a dedicated virtual environment (default %LOCALAPPDATA%\stackbilt-llm-gateway\venv),
  installs the package with its desktop extra from -Source, and registers login start-up of the
  tray (HKCU Run value, via `stackbilt-gw autostart enable`). Re-running upgrades in place.
  Undo with uninstall.ps1.
#>
[CmdletBinding()]
param(
  [string]$Prefix = (Join-Path $env:LOCALAPPDATA "stackbilt-llm-gateway"),
  [string]$Venv = "",
  [string]$Source = (Split-Path -Parent $PSScriptRoot),
  [string]$Python = "py",
  [switch]$NoDesktop,
  [switch]$NoAutostart,
  [switch]$SkipInstall,
  [switch]$DryRun
)
$ErrorActionPreference = "Stop"
if (-not $Venv) { $Venv = Join-Path $Prefix "venv" }
$Scripts = Join-Path $Venv "Scripts"

function Invoke-Step([string]$Exe, [string[]]$Arguments) {
  Write-Host ("+ " + $Exe + " " + ($Arguments -join " "))
  if (-not $DryRun) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe failed with exit code $LASTEXITCODE" }
  }
}

if (-not $SkipInstall) {
  $pyArgs = @()
  if ($Python -eq "py") { $pyArgs = @("-3") }
  Invoke-Step $Python ($pyArgs + @("-m", "venv", $Venv))
  $venvPython = Join-Path $Scripts "python.exe"
  Invoke-Step $venvPython @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
  $spec = if ($NoDesktop) { $Source } else { "$Source[desktop]" }
  Invoke-Step $venvPython @("-m", "pip", "install", "--quiet", "--upgrade", $spec)
}

$gw = Join-Path $Scripts "stackbilt-gw.exe"
if (-not $NoAutostart -and -not $NoDesktop) {
  Invoke-Step $gw @("autostart", "enable")
}
Write-Host "installed: $Venv"
Write-Host "add $Scripts to your PATH, then: stackbilt-gw init; stackbilt-gw start"
