#!/usr/bin/env bash
# Check the include layering of src/ against src/LAYERS, as TAP: one test per
# source file.  A file may include "folder/x.h" only from its own folder or
# from a lower layer; a peer or a higher layer, or a folder that src/LAYERS
# does not name, fails.  System headers (<...>) are not checked.
set -u
cd "$(dirname "$0")/.."
declare -A rank
n=0
while read -r line; do
	line=${line%%#*}
	[ -n "${line// /}" ] || continue
	n=$((n + 1))
	for folder in $line; do
		rank[$folder]=$n
	done
done <src/LAYERS

i=0
bad=0
for file in src/*/*.[ch]; do
	i=$((i + 1))
	own=${file#src/}
	own=${own%%/*}
	problems=()
	if [ -z "${rank[$own]:-}" ]; then
		problems+=("folder $own is not in src/LAYERS")
	else
		while read -r inc; do
			dep=${inc%%/*}
			if [ "$dep" = "$own" ]; then
				continue
			elif [ -z "${rank[$dep]:-}" ]; then
				problems+=("includes $inc: folder $dep is not in src/LAYERS")
			elif [ "${rank[$dep]}" -ge "${rank[$own]}" ]; then
				kind=$([ "${rank[$dep]}" -eq "${rank[$own]}" ] && echo "a peer of" || echo "above")
				problems+=("includes $inc: $dep is $kind $own")
			fi
		done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/p' "$file")
	fi
	if [ ${#problems[@]} -eq 0 ]; then
		echo "ok $i - $file"
	else
		bad=$((bad + 1))
		echo "not ok $i - $file"
		printf '#   %s\n' "${problems[@]}"
	fi
done
echo "1..$i"
[ "$bad" -eq 0 ]
