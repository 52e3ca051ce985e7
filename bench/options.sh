# bench/options.sh - the options the SQL benchmarks share; source it with the
# script's arguments.  An unknown option calls usage(), which exits; a script
# that does not define it gets one that prints its "# Usage:" comment block
# (from that line to the next bare "#"):
#   --quick       1M rows instead of 10M          -> ROWS
#   --rounds N    timed rounds, 1 to 50 (default 5) -> ROUNDS
#   --no-install  the extension is installed       -> INSTALL=0
if ! declare -F usage >/dev/null; then
	usage() {
		sed -n '/^# Usage:/,/^#$/{/^#$/d;s/^# \{0,1\}//p}' "$0" >&2
		exit 64
	}
fi
ROWS=10000000
ROUNDS=5
INSTALL=1
while [ $# -gt 0 ]; do
	case "$1" in
		--quick) ROWS=1000000 ;;
		--rounds)
			[ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] && [ "$2" -le 50 ] || usage
			ROUNDS=$2
			shift
			;;
		--no-install) INSTALL=0 ;;
		*) usage ;;
	esac
	shift
done
