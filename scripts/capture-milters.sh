#!/bin/bash
# capture-milters.sh: capture the Authentication-Results headers that the
# real milters (Debian's opendkim and opendmarc behind Postfix) write when
# fed hostile envelope senders, HELO names and DKIM i= values, and keep the
# delivered messages as fixtures in rules/testdata/milters/ (issue 14).
#
# NOT run by `make test`: the fixtures it wrote are committed and read by
# rules/milter_test.go. Run it by hand, as root, on a Debian 12 machine:
#
#	sudo scripts/capture-milters.sh            # from the repository root
#
# It installs postfix, opendkim, opendkim-tools, opendmarc, swaks and
# dnsmasq-base if they are missing, then runs everything (a dnsmasq serving
# the test domains' SPF, DMARC and DKIM records, opendkim, opendmarc,
# Postfix on 127.0.0.1:2525, swaks) inside a private network and mount
# namespace (unshare -mn): the host's network, /etc/resolv.conf and system
# services are not touched, and everything is stopped when it returns.
# The milters run three times: opendkim then opendmarc in smtpd_milters
# (dkim-first/), opendmarc then opendkim (dmarc-first/), opendkim alone
# (dkim-only/, a site without OpenDMARC).
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "capture-milters.sh: run as root" >&2; exit 1; }
cd "$(dirname "$0")/.."
ROOT=$PWD
FIX=$ROOT/rules/testdata/milters

if [ "${1:-}" != "--inner" ]; then
	need=()
	for p in postfix opendkim opendkim-tools opendmarc swaks dnsmasq-base iproute2; do
		dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
	fi
	WORK=$(mktemp -d /tmp/capture-milters.XXXXXX)
	chmod 755 "$WORK"
	export WORK
	# Keys of our own for the two test domains, and the signed messages.
	for d in evil victim; do
		mkdir -p "$WORK/keys/$d"
		opendkim-genkey -b 1024 -d "$d.example" -s sel -D "$WORK/keys/$d"
	done
	sign() { # name key-domain d= [i=]
		go run scripts/milters-sign.go -key "$WORK/keys/$2/sel.private" -d "$3" -s sel -i "${4:-}" \
			<"$FIX/input/$1.eml" >"$WORK/msg/$1.eml"
	}
	mkdir -p "$WORK/msg"
	for f in "$FIX"/input/*.eml; do cp "$f" "$WORK/msg/"; done
	sign genuine-signed victim victim.example
	sign attacker-own evil evil.example
	sign dkim-i-qp-semicolon evil evil.example 'x=3B=20dkim=3Dpass=20header.d=3Dvictim.example=20z=3D@evil.example'
	sign dkim-i-space evil evil.example 'x=20dkim=3Dpass=20header.d=3Dvictim.example=20z=3D@evil.example'
	sign dkim-i-qp-quoted evil evil.example '=22x=3B=20dkim=3Dpass=20header.d=3Dvictim.example=20z=3D=22@evil.example'
	sign dkim-i-raw-quoted evil evil.example '"x dkim=3Dpass header.d=3Dvictim.example z=3D"@evil.example'
	sign dkim-i-injection evil evil.example 'x=3B=20dkim=3Dpass=20header.d=3Dvictim.example=20header.x=3D@evil.example'
	sign dkim-i-injection-i evil evil.example 'x=3B=20dkim=3Dpass=20header.d=3Dvictim.example=20header.i=3D@victim.example=20header.x=3D@evil.example'
	sign dkim-forged-victim evil victim.example
	# The injection, plus a decoy d=victim.example signature on top that
	# cannot verify: does OpenDKIM report it (a dkim=fail for the From
	# domain beside the injected pass), or skip it?
	for decoy in bad-b v2; do
		case $decoy in
		bad-b) v=1 ;;
		v2) v=2 ;;
		esac
		printf 'DKIM-Signature: v=%s; a=rsa-sha256; c=relaxed/relaxed; d=victim.example; s=sel;\n\th=From:To:Subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n\tb=AAAA\n' "$v" >"$WORK/msg/dkim-i-decoy-$decoy.eml"
		cp "$FIX/input/dkim-i-decoy-$decoy.eml" "$WORK/msg/decoy.tmp"
		go run scripts/milters-sign.go -key "$WORK/keys/evil/sel.private" -d evil.example -s sel \
			-i 'x=3B=20dkim=3Dpass=20header.d=3Dvictim.example=20header.x=3D@evil.example' \
			<"$WORK/msg/decoy.tmp" >>"$WORK/msg/dkim-i-decoy-$decoy.eml"
		rm "$WORK/msg/decoy.tmp"
	done
	sign two-from evil evil.example
	for order in dkim-first dmarc-first dkim-only; do
		unshare --mount --net --propagation private "$0" --inner "$order"
	done
	rm -rf "$WORK"
	exit 0
fi

# Inside the namespaces: $2 is the milter order.
order=$2
ip link set lo up
# The clients' addresses: OpenDMARC's own SPF check passes any sender
# connecting from 127.0.0.1, and both milters skip their default
# internal/ignored host 127.0.0.1, so the clients come from elsewhere.
ip addr add 203.0.113.5/32 dev lo   # the attacker's host, in evil.example's SPF
ip addr add 198.51.100.7/32 dev lo  # the customer's provider, in victim.example's SPF
case $order in
dkim-first) milters="inet:127.0.0.1:8891, inet:127.0.0.1:8893" ;;
dmarc-first) milters="inet:127.0.0.1:8893, inet:127.0.0.1:8891" ;;
dkim-only) milters="inet:127.0.0.1:8891" ;;
esac
R=$WORK/$order
mkdir -p "$R/etc" "$R/queue" "$R/data" "$R/out"
chmod 1777 "$R/out"
chown postfix "$R/data"
for f in main.cf master.cf opendkim.conf opendmarc.conf; do
	sed -e "s|@WORK@|$R|g" -e "s|@MILTERS@|$milters|g" "$FIX/conf/$f" >"$R/etc/$f"
done
mv "$R/etc/opendkim.conf" "$R/etc/opendmarc.conf" "$R"/

# DNS: a dnsmasq of our own, and a resolv.conf that only this mount
# namespace sees.
args=(--no-resolv --no-hosts --no-poll --listen-address=127.0.0.1 --bind-interfaces
	--local=/example/ --local=/example.net/ --pid-file="$R/dnsmasq.pid" --user=root
	--address=/mx.example.net/127.0.0.1 --ptr-record=5.113.0.203.in-addr.arpa,mail.evil.example
	--ptr-record=7.100.51.198.in-addr.arpa,mail.victim.example
	--address=/mail.evil.example/203.0.113.5 --address=/mail.victim.example/198.51.100.7)
while read -r name text; do
	case $name in '#'* | '') continue ;; esac
	for d in evil victim; do
		p=$(tr -d '\n\t' <"$WORK/keys/$d/sel.txt" | sed -e 's/.*p=//' -e 's/[" )].*//')
		text=${text//@KEY-$d@/$p}
	done
	args+=("--txt-record=$name,$text")
done <"$FIX/conf/zone.txt"
pids=()
cleanup() {
	postfix -c "$R/etc" stop 2>/dev/null || true
	[ -f "$R/dnsmasq.pid" ] && pids+=("$(cat "$R/dnsmasq.pid")")
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	wait
	return 0
}
trap cleanup EXIT
dnsmasq "${args[@]}"
echo "nameserver 127.0.0.1" >"$R/resolv.conf"
mount --bind "$R/resolv.conf" /etc/resolv.conf
echo "127.0.0.1 localhost mx.example.net" >"$R/hosts"
mount --bind "$R/hosts" /etc/hosts

opendkim -f -x "$R/opendkim.conf" 2>"$R/opendkim.log" &
pids+=($!)
opendmarc -f -c "$R/opendmarc.conf" 2>"$R/opendmarc.log" &
pids+=($!)
sleep 1
postfix -c "$R/etc" check
postfix -c "$R/etc" start

send() { # name client-ip helo mail-from
	swaks --silent 2 --server 127.0.0.1:2525 --local-interface "$2" --helo "$3" \
		--from "$4" --to "$1@mx.example.net" --data "@$WORK/msg/$1.eml" ||
		echo "capture-milters.sh: $order/$1: not accepted" >&2
}
send genuine-signed 198.51.100.7 mail.victim.example jean@victim.example
send unsigned-victim 203.0.113.5 mail.evil.example jean@victim.example
send attacker-own 203.0.113.5 mail.evil.example mallory@evil.example
send mailfrom-semicolon 203.0.113.5 mail.evil.example '"x;dmarc=pass header.from=victim.example z="@evil.example'
send mailfrom-space 203.0.113.5 mail.evil.example '"x dkim=pass header.d=victim.example dmarc=pass header.from=victim.example z="@evil.example'
send helo-semicolon 203.0.113.5 'x;dmarc=pass;header.from=victim.example' '<>'
send helo-quote 203.0.113.5 '"x;dmarc=pass' '<>'
send dkim-i-qp-semicolon 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-space 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-qp-quoted 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-raw-quoted 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-injection 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-injection-i 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-decoy-bad-b 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-i-decoy-v2 203.0.113.5 mail.evil.example mallory@evil.example
send dkim-forged-victim 203.0.113.5 mail.evil.example mallory@evil.example
send forged-ar 203.0.113.5 mail.evil.example mallory@evil.example
send two-from 203.0.113.5 mail.evil.example mallory@evil.example

for _ in $(seq 60); do
	[ -z "$(postqueue -c "$R/etc" -p | grep -v 'Mail queue is empty')" ] && break
	sleep 1
done
cleanup
trap - EXIT

mkdir -p "$FIX/$order"
rm -f "$FIX/$order"/*.eml
for f in "$R"/out/*.eml; do cp "$f" "$FIX/$order/"; done
cp "$R/maillog" "$FIX/$order/maillog.txt"
