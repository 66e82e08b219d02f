#!/bin/sh
# The action hook of the Command tests: $1 says how it ends. It checks
# the key in its environment against the one in the JSON on its stdin.
input=$(cat)
case "$input" in
*"\"idempotency_key\":\"$RECOVERYBOT_IDEMPOTENCY_KEY\""*) ;;
*) echo "key $RECOVERYBOT_IDEMPOTENCY_KEY not in the input" >&2; exit 2 ;;
esac
if [ -n "$RECOVERYBOT_IMAP_PASSWORD" ] || [ -n "$HTTPS_PROXY" ]; then
	echo "our secrets leaked into the environment" >&2
	exit 2
fi
case "$1" in
ok)
	printf 'done for %s (%s)\nsecond line\n' "$RECOVERYBOT_CASE" "$RECOVERYBOT_ACTION"
	;;
chatty)
	yes 'done, at length' | head -c 1000000
	;;
tempfail)
	echo "admin API busy" >&2
	exit 75
	;;
fail)
	echo "no such profile" >&2
	exit 1
	;;
hang)
	sleep 60 &
	echo $! >"$2"
	wait
	;;
esac
