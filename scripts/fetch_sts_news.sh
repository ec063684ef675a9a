#!/usr/bin/env bash
# The link-calibration pairs: the STS benchmark's news headlines (SemEval 2013-2016, STS-B train/dev/test),
# extracted from a pinned public copy of the STS benchmark into $OUT (default ~/.cache/presslens/sts-news).
#
# Provenance: STS benchmark (Cer et al., SemEval-2017; http://ixa2.si.ehu.eus/stswiki), as committed in
# github.com/zhangzhenhu/Semantic-Texual-Similarity-Toolkits at $COMMIT (data/stsbenchmark/, with the
# benchmark's own LICENSE.txt). Only the `headlines` file of the `main-news` genre is kept: its text is mined
# by the European Media Monitor (reuse allowed with acknowledgement, per the benchmark's LICENSE.txt); the
# scores are CC BY-SA 4.0. MSRpar (Microsoft research licence) and deft-news (no licence given) are left out.
# Output: train.tsv, dev.tsv, test.tsv (score <TAB> sentence1 <TAB> sentence2) and LICENSE.txt; the sha256 of
# each source file is checked. Usage: scripts/fetch_sts_news.sh [OUT]   (STS_REPO=URL-or-path overrides the
# clone source, e.g. a local mirror; the commit and checksums still have to match).
set -euo pipefail
REPO="${STS_REPO:-https://github.com/zhangzhenhu/Semantic-Texual-Similarity-Toolkits}"
COMMIT=c55a72f51bd15a8bd75114247c06984b432050f9
OUT="${1:-${PRESSLENS_HOME:-$HOME/.cache/presslens}/sts-news}"
declare -A SHA=(
  [train]=0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82
  [dev]=5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234
  [test]=affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a
)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet --bare --filter=blob:none "$REPO" "$work/repo.git" 2>/dev/null || git clone --quiet --bare "$REPO" "$work/repo.git"
mkdir -p "$OUT"
for split in train dev test; do
  git --git-dir "$work/repo.git" show "$COMMIT:data/stsbenchmark/sts-$split.csv" > "$work/$split.csv"
  got="$(sha256sum "$work/$split.csv" | cut -d' ' -f1)"
  if [ "$got" != "${SHA[$split]}" ]; then
    echo "fetch_sts_news: sts-$split.csv has sha256 $got, expected ${SHA[$split]}" >&2; exit 1
  fi
  # columns: genre, file, years, id, score, sentence1, sentence2 (some rows carry extra source columns)
  awk -F'\t' -v OFS='\t' '$1 == "main-news" && $2 == "headlines" {print $5, $6, $7}' "$work/$split.csv" > "$OUT/$split.tsv"
done
git --git-dir "$work/repo.git" show "$COMMIT:data/stsbenchmark/LICENSE.txt" > "$OUT/LICENSE.txt"
wc -l "$OUT"/*.tsv
