<#
.SYNOPSIS
  Uninstall StackBilt LLM Gateway for the current user (Windows).
.DESCRIPTION
  Stops the daemon, removes the HKCU Run value and the virtual environment. Keyring entries,
  config and data are kept.
#>
[CmdletBinding()]
param(
  [string]$Prefix = (Join-Path $env:LOCALAPPDATA "stackbilt-llm-gateway"),
  [string]$Venv = "",
  [switch]$KeepVenv,
  [switch]$DryRun
)
$ErrorActionPreference = "Stop"
if (-not $Venv) { $Venv = Join-Path $Prefix "venv" }
$gw = Join-Path (Join-Path $Venv "Scripts") "stackbilt-gw.exe"

function Invoke-Step([string]$Exe, [string[]]$Arguments) {
  Write-Host ("+ " + $Exe + " " + ($Arguments -join " "))
  if (-not $DryRun) { & $Exe @Arguments }
}

if ((Test-Path $gw) -or $DryRun) {
  Invoke-Step $gw @("stop")
  Invoke-Step $gw @("autostart", "disable")
}
if (-not $KeepVenv) {
  if (-not $DryRun -and -not (Test-Path (Join-Path $Venv "pyvenv.cfg"))) {
    throw "$Venv does not look like a virtual environment; not removing it"
  }
  Write-Host "+ Remove-Item -Recurse $Venv"
  if (-not $DryRun) { Remove-Item -Recurse -Force $Venv }
}
Write-Host "uninstalled (keyring entries, config and data kept)"
