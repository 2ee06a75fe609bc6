#!/usr/bin/env bash
# Installs the system libraries Qt needs and the PostgreSQL 15 server the team-library tests start on Debian/Ubuntu;
# a no-op elsewhere or when all are present.
set -euo pipefail
if [[ "$(uname -s)" != "Linux" ]] || ! command -v dpkg-query >/dev/null 2>&1; then
    exit 0
fi
# Qt's xcb/offscreen platform plugins, QtMultimedia (libpulse0), fonts and OpenGL.
packages=(
    libpulse0 libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
    libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 libwayland-cursor0 fonts-dejavu-core
    postgresql-15
)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
echo "Installing system libraries: ${missing[*]}"
SUDO=""
if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
