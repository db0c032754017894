#!/usr/bin/env bash
# Fetch the natural photographs the shipped demo model was trained on (Debian wallpaper packages)
# into DEST (default: data/photos), one file per photo, plus each package's copyright file in
# DEST/LICENSES/. Needs apt-get and dpkg (no root). The photos are not part of this repository.
#
#   docs/training/fetch_photos.sh data/photos
#   b2v-edge train --data 'deadleaves+photos:data/photos' ...
set -euo pipefail
dest=${1:-data/photos}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest/LICENSES"
packages=(mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers)
(cd "$work" && apt-get download "${packages[@]}" >/dev/null)
for deb in "$work"/*.deb; do
  name=$(basename "$deb" | cut -d_ -f1)
  dpkg -x "$deb" "$work/$name"
  cp "$work/$name/usr/share/doc/$name/copyright" "$dest/LICENSES/$name.copyright"
done

# Photographs only (no illustrations, renders or abstract art); Storm.jpg is left out: it has real
# motion blur.
mate=(Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops TwoWings Wood YellowFlower)
for n in "${mate[@]}"; do
  cp "$work/mate-backgrounds/usr/share/backgrounds/mate/nature/$n.jpg" "$dest/mate-$n.jpg"
done
lomiri=(Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly Picture_0B_by_freespace Picture_1A_by_freespace
  Wine_by_Jakkub_Mede aitzgorri_by_Aitzol_Berasategi analogpattern_by_Peter_Nerlich free_by_Peter_Nerlich
  friends_by_Aitzol_Berasategi greentock_by_Peter_Nerlich life_by_Aitzol_Berasategi
  picosdeeuropa_by_Aitzol_Berasategi seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi)
for n in "${lomiri[@]}"; do
  cp "$work/lomiri-wallpapers-16.04/usr/share/backgrounds/$n.jpg" "$dest/lomiri-$n.jpg"
done
cp "$work/lomiri-wallpapers-20.04/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg" "$dest/lomiri-Kleiber_by_Lukas_Baubkus.jpg"
plasma=(BytheWater ColdRipple ColorfulCups EveningGlow FallenLeaf Grey Kite OneStandsOut Path Volna summer_1am)
for n in "${plasma[@]}"; do
  # the largest rendition of each wallpaper
  src=$(ls -S "$work/plasma-workspace-wallpapers/usr/share/wallpapers/$n/contents/images/"* | head -1)
  cp "$src" "$dest/plasma-$n.${src##*.}"
done
echo "$(ls "$dest" | grep -vc LICENSES) photos in $dest (licences in $dest/LICENSES)"
