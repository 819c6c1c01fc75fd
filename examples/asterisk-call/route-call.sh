#!/bin/sh
# Decides where an incoming call goes. Reads the call as Berth's asterisk webhook maps it, on stdin:
#   {"uniqueid", "caller", "exten", "channel", "epoch"}
# and writes {"uniqueid", "action", "target", "reason"} on stdout; the first rule that matches wins:
#
#   reject     the caller's number starts with one of BLOCKED_PREFIXES (target null)
#   reject     the extension is not in EXTENSIONS (target null)
#   voicemail  outside BUSINESS_DAYS and BUSINESS_HOURS (target <exten>@default, a mailbox)
#   route      otherwise, to the extension's target in EXTENSIONS
#
# The time is the call's epoch (dialplan: epoch=${EPOCH}) when the input has one, else now; it is
# read in TZ, a POSIX TZ string such as CET-1CEST,M3.5.0,M10.5.0/3 (the image has no zoneinfo).
# The rules' data comes from the environment, so changing them needs no new image:
#   EXTENSIONS        "100=PJSIP/reception 5001=Queue/support"   (exten=target, space-separated)
#   BLOCKED_PREFIXES  "+1900 +1976"
#   BUSINESS_DAYS     "1-5"        (ISO weekdays, 1 = Monday)
#   BUSINESS_HOURS    "0800-1800"  (from, inclusive, to, exclusive; HHMM)
#
# Runs outside a container too, with busybox or GNU tools: sh examples/asterisk-call/route-call.sh < call.json
set -eu
export LC_ALL=C # bytes, not characters: json.awk reads and writes UTF-8 byte by byte
set -f # the lists below are split into words, never globbed
here=$(dirname "$0")
lib="$here/json.awk"
[ -f "$lib" ] || lib="$here/../lib/json.awk"

input=$(cat)
field() { printf '%s' "$input" | awk -f "$lib" -v get="$1"; }
quote() { printf '%s' "$1" | awk -f "$lib" -v encode=string; }

uniqueid=$(field /uniqueid)
caller=$(field /caller)
exten=$(field /exten)
epoch=$(field /epoch)
days=${BUSINESS_DAYS:-1-5}
hours=${BUSINESS_HOURS:-0800-1800}

decide() {
  for prefix in ${BLOCKED_PREFIXES:-}; do
    case $caller in "$prefix"*) action=reject; reason="caller $caller matches blocked prefix $prefix"; return ;; esac
  done
  target=
  for entry in ${EXTENSIONS:-}; do
    case $entry in "$exten="*) target=${entry#*=}; break ;; esac
  done
  if [ -z "$target" ]; then action=reject; reason="extension $exten is not in the extension map"; return; fi
  if [ -n "$epoch" ]; then now=$(date -d "@$epoch" +'%u %H%M %a %H:%M'); else now=$(date +'%u %H%M %a %H:%M'); fi
  set -- $now
  if [ "$1" -lt "${days%-*}" ] || [ "$1" -gt "${days#*-}" ] || [ "$2" -lt "${hours%-*}" ] || [ "$2" -ge "${hours#*-}" ]; then
    action=voicemail; target="$exten@default"; reason="outside business hours (days $days, $hours) on $3 at $4"; return
  fi
  action=route; reason="extension $exten is $target, within business hours on $3 at $4"
}

action=; target=; reason=
decide
printf '{"uniqueid":%s,"action":"%s","target":%s,"reason":%s}\n' \
  "$(quote "$uniqueid")" "$action" "$([ -n "$target" ] && quote "$target" || echo null)" "$(quote "$reason")"
echo "asterisk-call: $uniqueid from ${caller:-unknown} to $exten -> $action ${target:-}" >&2
