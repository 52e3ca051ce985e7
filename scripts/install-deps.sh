#!/usr/bin/env bash
# Install, with apt, whatever loomlat needs to build, test and run that is not
# installed yet (Debian 12).  Quiet and quick when everything is there.
set -euo pipefail

packages=(
	postgresql-15 postgresql-server-dev-15 postgresql-common libpq-dev
	libcurl4-openssl-dev libjansson-dev libcmocka-dev libmicrohttpd-dev
	postgresql-15-cron
	make gcc pkg-config clang-format python3 util-linux
)
# the dashboard's browser test (ingestor/test/integration/test_dashboard_browser.py)
[ "${LOOMLAT_NO_BROWSER:-}" = 1 ] || packages+=(chromium)
[ "${LOOMLAT_WITH_TDIGEST:-}" = 1 ] && packages+=(postgresql-15-tdigest)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "loomlat: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
	exit 69
fi
echo "loomlat: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
