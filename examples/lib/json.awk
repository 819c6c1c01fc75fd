# A small JSON reader and writer for busybox awk, so the example runners can stay shell scripts
# in an image that has nothing but busybox. Reads all of stdin; one of:
#
#   awk -f json.awk -v get=/issue/key     the value at that JSON Pointer (RFC 6901): a string
#                                         decoded (\n, \", \u00e9 ... become the characters), a
#                                         number or true/false as written, an array's scalar
#                                         elements one per line; nothing for null or a missing key
#   awk -f json.awk -v encode=string      stdin as one JSON string literal ("..." with escapes)
#   awk -f json.awk -v encode=lines       stdin's non-empty lines as a JSON array of strings
#
# Invalid JSON exits 2 with the reason on stderr. What it does not promise: \u0000 and unpaired
# surrogates decode to U+FFFD (awk strings cannot hold NUL); bytes are passed through as bytes,
# so text must be UTF-8 (Berth always writes UTF-8 JSON to stdin).

BEGIN {
  for (i = 1; i < 32; i++) CTRL[sprintf("%c", i)] = sprintf("\\u%04x", i)
  CTRL["\b"] = "\\b"; CTRL["\f"] = "\\f"; CTRL["\n"] = "\\n"; CTRL["\r"] = "\\r"; CTRL["\t"] = "\\t"
  SHORT["\""] = "\""; SHORT["\\"] = "\\"; SHORT["/"] = "/"
  SHORT["b"] = "\b"; SHORT["f"] = "\f"; SHORT["n"] = "\n"; SHORT["r"] = "\r"; SHORT["t"] = "\t"
  REPLACEMENT = "\357\277\275"
}

{ text = (NR > 1 ? text "\n" : "") $0 }

END {
  if (encode == "string") { print json_str(text); exit 0 }
  if (encode == "lines") { print json_lines(text); exit 0 }
  if (get == "") fail_usage()
  n = length(text); pos = 1
  parse_value("")
  skip_ws()
  if (pos <= n) fail("unexpected text after the JSON value")
  print_at(get)
}

function fail_usage() {
  print "json.awk: pass -v get=<JSON Pointer>, -v encode=string or -v encode=lines" | "cat 1>&2"
  exit 2
}

function fail(message) {
  printf "json.awk: invalid JSON: %s at byte %d\n", message, pos | "cat 1>&2"
  exit 2
}

# --- writing ------------------------------------------------------------------------------

function json_str(s,   out, i, c, len) {
  out = "\""
  len = length(s)
  for (i = 1; i <= len; i++) {
    c = substr(s, i, 1)
    if (c == "\"" || c == "\\") out = out "\\" c
    else if (c in CTRL) out = out CTRL[c]
    else out = out c
  }
  return out "\""
}

function json_lines(s,   lines, count, i, out) {
  count = split(s, lines, "\n")
  out = ""
  for (i = 1; i <= count; i++) if (lines[i] != "") out = out (out == "" ? "" : ",") json_str(lines[i])
  return "[" out "]"
}

# --- reading ------------------------------------------------------------------------------
# Every value is recorded by its JSON Pointer: KIND[p] (object, array, string, number, true,
# false, null), VALUE[p] for scalars, LENGTH[p] for arrays.

function print_at(p,   i) {
  if (!(p in KIND) || KIND[p] == "null" || KIND[p] == "object") return
  if (KIND[p] != "array") { print VALUE[p]; return }
  for (i = 0; i < LENGTH[p]; i++) {
    if (KIND[p "/" i] != "null" && KIND[p "/" i] != "object" && KIND[p "/" i] != "array") print VALUE[p "/" i]
  }
}

function skip_ws() {
  while (pos <= n && index(" \t\n\r", substr(text, pos, 1)) > 0) pos++
}

function pointer_token(key) {
  gsub(/~/, "~0", key)
  gsub(/\//, "~1", key)
  return key
}

function parse_value(p,   c, key, count, literal) {
  skip_ws()
  c = substr(text, pos, 1)
  if (c == "{") {
    KIND[p] = "object"; pos++; skip_ws()
    if (substr(text, pos, 1) == "}") { pos++; return }
    for (;;) {
      skip_ws()
      if (substr(text, pos, 1) != "\"") fail("expected a key in quotes")
      key = parse_string()
      skip_ws()
      if (substr(text, pos, 1) != ":") fail("expected ':'")
      pos++
      parse_value(p "/" pointer_token(key))
      skip_ws()
      c = substr(text, pos++, 1)
      if (c == "}") return
      if (c != ",") fail("expected ',' or '}'")
    }
  }
  if (c == "[") {
    KIND[p] = "array"; LENGTH[p] = 0; pos++; skip_ws()
    if (substr(text, pos, 1) == "]") { pos++; return }
    for (count = 0; ; count++) {
      parse_value(p "/" count)
      LENGTH[p] = count + 1
      skip_ws()
      c = substr(text, pos++, 1)
      if (c == "]") return
      if (c != ",") fail("expected ',' or ']'")
    }
  }
  if (c == "\"") { KIND[p] = "string"; VALUE[p] = parse_string(); return }
  if (match(substr(text, pos, 400), /^(true|false|null|-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?)/)) {
    literal = substr(text, pos, RLENGTH)
    KIND[p] = (literal == "true" || literal == "false" || literal == "null") ? literal : "number"
    VALUE[p] = literal
    pos += RLENGTH
    return
  }
  fail(pos > n ? "unexpected end" : "unexpected character")
}

# At the opening quote; returns the decoded string and leaves pos after the closing quote.
function parse_string(   out, c, code, low) {
  out = ""
  pos++
  for (;;) {
    if (pos > n) fail("unterminated string")
    c = substr(text, pos++, 1)
    if (c == "\"") return out
    if (c != "\\") { out = out c; continue }
    c = substr(text, pos++, 1)
    if (c in SHORT) { out = out SHORT[c]; continue }
    if (c != "u") fail("invalid escape")
    code = hex4()
    if (code >= 55296 && code < 56320 && substr(text, pos, 2) == "\\u") {
      pos += 2
      low = hex4()
      if (low >= 56320 && low < 57344) { out = out utf8(65536 + (code - 55296) * 1024 + (low - 56320)); continue }
      out = out REPLACEMENT
      code = low
    }
    out = out ((code == 0 || (code >= 55296 && code < 57344)) ? REPLACEMENT : utf8(code))
  }
}

function hex4(   i, digit, value) {
  value = 0
  for (i = 0; i < 4; i++) {
    digit = index("0123456789abcdef", tolower(substr(text, pos + i, 1)))
    if (digit == 0) fail("invalid \\u escape")
    value = value * 16 + digit - 1
  }
  pos += 4
  return value
}

function utf8(code) {
  if (code < 128) return sprintf("%c", code)
  if (code < 2048) return sprintf("%c%c", 192 + int(code / 64), 128 + code % 64)
  if (code < 65536) return sprintf("%c%c%c", 224 + int(code / 4096), 128 + int(code / 64) % 64, 128 + code % 64)
  return sprintf("%c%c%c%c", 240 + int(code / 262144), 128 + int(code / 4096) % 64, 128 + int(code / 64) % 64, 128 + code % 64)
}
