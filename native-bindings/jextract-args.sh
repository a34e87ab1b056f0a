# Sourced by generate.sh and generate-mpi.sh: jextract's --include-KIND options for the names in a lists/ file
# (one per line; # comments and blank lines skipped).
args() { local kind=$1 file=$2; grep -v '^#' "$file" | grep -v '^$' | while read -r n; do printf -- '--include-%s\n%s\n' "$kind" "$n"; done; }
