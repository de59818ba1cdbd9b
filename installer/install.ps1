<#
.SYNOPSIS
  Install StackBilt LLM Gateway for the current user (Windows).
.DESCRIPTION
  Creates a dedicated virtual environment (default %LOCALAPPDATA%\stackbilt-llm-gateway\venv),
  installs the package with its desktop extra from -Source, and registers login start-up of the
  tray (HKCU Run value, via `stackbilt-gw autostart enable`); -Start then starts the daemon.
  The interpreter must be Python 3.11+ with venv/ensurepip; if not, one line says what to fix.
  -Wheelhouse DIR installs only from the wheels in DIR (no package index: offline machines).
  Re-running upgrades in place. Undo with uninstall.ps1.
#>
[CmdletBinding()]
param(
  [string]$Prefix = (Join-Path $env:LOCALAPPDATA "stackbilt-llm-gateway"),
  [string]$Venv = "",
  [string]$Source = (Split-Path -Parent $PSScriptRoot),
  [string]$Python = "py",
  [string]$Wheelhouse = "",
  [switch]$NoDesktop,
  [switch]$NoAutostart,
  [switch]$Start,
  [switch]$SkipInstall,
  [switch]$DryRun
)
$ErrorActionPreference = "Stop"
if (-not $Venv) { $Venv = Join-Path $Prefix "venv" }
$Scripts = Join-Path $Venv "Scripts"

function Fail([string]$Message) {
  [Console]::Error.WriteLine("install.ps1: $Message")
  exit 1
}

function Invoke-Step([string]$Exe, [string[]]$Arguments) {
  Write-Host ("+ " + $Exe + " " + ($Arguments -join " "))
  if (-not $DryRun) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe failed with exit code $LASTEXITCODE" }
  }
}

# Runs the interpreter with its output captured: the trimmed stdout, or $null when it fails.
function Invoke-Probe([string[]]$Arguments) {
  $saved = $ErrorActionPreference
  $ErrorActionPreference = "Continue"  # a probe's stderr must not stop the script
  try {
    $out = & $Python @pyArgs @Arguments 2>$null
    if ($LASTEXITCODE -ne 0) { return $null }
    return ("$out").Trim()
  } catch {
    return $null
  } finally {
    $ErrorActionPreference = $saved
  }
}

if (-not $SkipInstall) {
  $pyArgs = @()
  if ($Python -eq "py") { $pyArgs = @("-3") }
  # The same checks, and the same one-line messages, as install.sh.
  if (-not (Get-Command $Python -ErrorAction SilentlyContinue)) {
    Fail "$Python not found - fix: install Python 3.11+ (python.org, or: winget install Python.Python.3.12), or pass -Python PATH"
  }
  $ver = Invoke-Probe @("-c", "import sys; print('%d.%d' % sys.version_info[:2])")
  if (-not ("$ver" -match '^\d+\.\d+$')) {
    Fail "$Python did not report its version - fix: pass a working Python 3.11+ with -Python PATH"
  }
  if ([version]$ver -lt [version]"3.11") {
    Fail "$Python is Python $ver, the gateway needs 3.11+ - fix: install a newer Python (python.org, or: winget install Python.Python.3.12) and re-run with -Python PATH"
  }
  if ($null -eq (Invoke-Probe @("-c", "import ensurepip, venv"))) {
    Fail "$Python (Python $ver) cannot create virtual environments: its ensurepip module is missing - fix: reinstall Python from python.org with pip included, then re-run"
  }
  if ($Wheelhouse -and -not (Test-Path -PathType Container $Wheelhouse)) {
    Fail "-Wheelhouse $Wheelhouse is not a directory"
  }
  try {
    Invoke-Step $Python ($pyArgs + @("-m", "venv", $Venv))
  } catch {
    Fail "$Python -m venv $Venv failed - fix: reinstall Python from python.org with pip included, or pass another Python 3.11+ with -Python PATH"
  }
  $venvPython = Join-Path $Scripts "python.exe"
  $pipArgs = @("--quiet", "--upgrade")
  if ($Wheelhouse) { $pipArgs += @("--no-index", "--find-links", $Wheelhouse) }
  Invoke-Step $venvPython (@("-m", "pip", "install") + $pipArgs + @("pip"))
  $spec = if ($NoDesktop) { $Source } else { "$Source[desktop]" }
  Invoke-Step $venvPython (@("-m", "pip", "install") + $pipArgs + @($spec))
}

$gw = Join-Path $Scripts "stackbilt-gw.exe"
if (-not $NoAutostart -and -not $NoDesktop) {
  Invoke-Step $gw @("autostart", "enable")
}
Write-Host "installed: $Venv"
if ($Start) {
  Invoke-Step $gw @("start")
  Write-Host "add $Scripts to your PATH, then: stackbilt-gw init (store provider keys)"
} else {
  Write-Host "add $Scripts to your PATH, then: stackbilt-gw init; stackbilt-gw start"
}
