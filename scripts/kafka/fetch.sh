#!/usr/bin/env bash
# Fetches the Apache Kafka broker's jars (pom.xml beside this file) from the Maven registry into
# .cache/kafka/libs, for the Kafka e2e test (test/e2e/kafka-broker.test.ts). Java 17 and Maven come from
# Debian (.ci/run installs them). Never fails the caller: where the jars cannot be had, it writes why to
# .cache/kafka/UNAVAILABLE, and the test reports itself skipped with that reason.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/../../.cache/kafka"
mkdir -p "$cache"
rm -f "$cache/UNAVAILABLE"

unavailable() {
  echo "$1" > "$cache/UNAVAILABLE"
  echo "kafka: $1" >&2
  exit 0
}

command -v java >/dev/null || unavailable "no java on PATH (Debian: openjdk-17-jre-headless)"
command -v mvn >/dev/null || unavailable "no mvn on PATH (Debian: maven)"
if ls "$cache/libs"/kafka_2.13-*.jar >/dev/null 2>&1; then
  exit 0
fi
log="$cache/fetch.log"
if ! timeout 600 mvn -B -q -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$cache/libs" >"$log" 2>&1; then
  plain="$(sed 's/\x1b\[[0-9;]*m//g' "$log")"
  cause="$(grep -o -m1 -E 'Unknown host [^ ]+|Connection refused|Connect timed out|Read timed out|status code: [0-9]+|Not Found' <<<"$plain" | head -1)"
  reason="mvn dependency:copy-dependencies could not fetch org.apache.kafka:kafka_2.13 from the Maven registry (${cause:-see $log})"
  rm -rf "$cache/libs"
  unavailable "$reason"
fi
ls "$cache/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || unavailable "mvn ran, but no kafka_2.13 jar is in $cache/libs"
