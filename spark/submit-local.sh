#!/usr/bin/env bash
# spark-submit of the Fovea job on local[N] (N: FOVEA_SPARK_CORES, default 2) without a Spark installation: the same
# org.apache.spark.deploy.SparkSubmit that Spark's spark-submit script runs, from the Spark jars Maven resolved for this
# module, with the JVM options Spark's launcher would add (jvm.options) and Fovea's. Arguments: those of ScoreImages
# (MODEL INPUT OUTPUT [--top K] [--batch N] [--ship] [--overwrite]); or ScoreBench's with FOVEA_SPARK_CLASS=dev.fovea.spark.ScoreBench.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
source "$ROOT/tools/java25.sh"
JAR="$HERE/target/fovea-spark.jar"
CP="$HERE/target/spark-classpath.txt"
if [ ! -f "$JAR" ] || [ ! -f "$CP" ]; then
  (cd "$ROOT" && mvn -B -q -ntp -DskipTests -pl spark -am package &&
   mvn -B -q -ntp -pl spark dependency:build-classpath -Dmdep.includeScope=compile -Dmdep.excludeGroupIds=dev.fovea -Dmdep.outputFile="$CP") >&2
fi
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED "@$HERE/jvm.options" \
  -cp "$(cat "$CP")" org.apache.spark.deploy.SparkSubmit --master "local[${FOVEA_SPARK_CORES:-2}]" \
  --conf spark.ui.enabled=false --conf spark.log.level=WARN --class "${FOVEA_SPARK_CLASS:-dev.fovea.spark.ScoreImages}" "$JAR" "$@"
