#!/bin/sh
# Add tvdesk to this user's application menu, pointing at the folder this script is in.
# Run it again after moving the folder; remove the two files it names to undo it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
share="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$share/applications" "$share/icons/hicolor/256x256/apps"
cp "$here/tvdesk.png" "$share/icons/hicolor/256x256/apps/tvdesk.png"
sed "s|^Exec=tvdesk |Exec=\"$here/tvdesk\" |" "$here/tvdesk.desktop" >"$share/applications/tvdesk.desktop"
echo "added $share/applications/tvdesk.desktop and $share/icons/hicolor/256x256/apps/tvdesk.png"
