#!/usr/bin/env bash
# Installs what the test suite needs that Go does not bring: Dovecot (IMAP
# and LMTP) for the mailbox tests, poppler-utils (pdftoppm) for the
# document previews, Chromium (and a font to render text with) for the
# dashboard's browser tests, systemd (systemd-analyze) to verify the unit
# in packaging/, and isync (mbsync) for the benchmark.
# As root it installs them with apt-get; otherwise it says what is missing.
set -euo pipefail

need=()
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || need+=(fonts-liberation)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ "${1:-}" = "--bench" ]; then
	command -v mbsync >/dev/null || need+=(isync)
	[ -x /usr/bin/time ] || need+=(time)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${need[*]}" >&2
	echo "run 'make test' as root to install them, or: sudo apt-get install -y ${need[*]}" >&2
	exit 1
fi
echo "installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# apt's chatter (debconf's notes included) is shown only when it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
# The packages' own service is not wanted: the tests start their own
# Dovecot with a private configuration.
