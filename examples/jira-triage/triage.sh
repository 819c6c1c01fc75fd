#!/bin/sh
# Triages a Jira issue by keyword rules. Reads the issue as Berth's jira webhook maps it, on stdin:
#   {"key", "summary", "description", "priority", "labels", "issueType"}
# and writes {"key", "team", "severity", "labels", "reason"} on stdout.
#
#   severity  high    a word crash/crashed/crashes/crashing, outage(s) or down in the summary or
#                     description, or priority Highest, Blocker or Critical
#             medium  priority High, or an issue of type Bug
#             low     anything else
#   team      identity        login, password(s), sso, 2fa, mfa
#             payments        invoice(s), payment(s), refund(s), billing
#             infrastructure  backup(s), disk, database, server, dns
#             triage          none of these (the first rule that matches wins)
#   labels    the issue's own labels, then team-<team> and severity-<severity>, without repeats
#
# Runs outside a container too, with busybox or GNU tools: sh examples/jira-triage/triage.sh < issue.json
set -eu
export LC_ALL=C # bytes, not characters: json.awk reads and writes UTF-8 byte by byte
here=$(dirname "$0")
lib="$here/json.awk"
[ -f "$lib" ] || lib="$here/../lib/json.awk"

input=$(cat)
field() { printf '%s' "$input" | awk -f "$lib" -v get="$1"; }
quote() { printf '%s' "$1" | awk -f "$lib" -v encode=string; }

key=$(field /key)
summary=$(field /summary)
description=$(field /description)
priority=$(field /priority)
issue_type=$(field /issueType)
labels=$(field /labels)

text=$(printf '%s\n%s\n' "$summary" "$description" | tr 'A-Z' 'a-z')
# The first of the words (an extended regular expression) found in the text, or nothing.
first_word() { printf '%s\n' "$text" | grep -Eow "$1" | head -n 1 || true; }

word=$(first_word 'crash(es|ed|ing)?|outages?|down')
if [ -n "$word" ]; then
  severity=high; severity_why="\"$word\" in the text"
else
  case $priority in
    Highest|Blocker|Critical) severity=high; severity_why="priority $priority" ;;
    High) severity=medium; severity_why="priority $priority" ;;
    *)
      if [ "$issue_type" = Bug ]; then severity=medium; severity_why="a Bug"
      else severity=low; severity_why="no urgent word or priority"; fi ;;
  esac
fi

team=triage; team_why="no team keyword"
for rule in 'identity:login|passwords?|sso|2fa|mfa' \
            'payments:invoices?|payments?|refunds?|billing' \
            'infrastructure:backups?|disk|database|server|dns'; do
  word=$(first_word "${rule#*:}")
  if [ -n "$word" ]; then team=${rule%%:*}; team_why="\"$word\" in the text"; break; fi
done

all_labels=$(printf '%s\nteam-%s\nseverity-%s\n' "$labels" "$team" "$severity" | awk 'NF && !seen[$0]++')
reason="severity $severity: $severity_why; team $team: $team_why"

printf '{"key":%s,"team":"%s","severity":"%s","labels":%s,"reason":%s}\n' \
  "$(quote "$key")" "$team" "$severity" "$(printf '%s\n' "$all_labels" | awk -f "$lib" -v encode=lines)" "$(quote "$reason")"
echo "jira-triage: $key -> team $team, severity $severity" >&2
