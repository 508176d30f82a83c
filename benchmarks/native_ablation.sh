#!/usr/bin/env bash
# The ablation table of docs/training.md: bench_native_quality.py under each setting, one after the
# other (heavy: run under the CPU lock, flock /tmp/medinpaint-cpu.lock bash benchmarks/native_ablation.sh).
# Each run writes results/native_ablation/<name>/{metrics.csv,metrics.json,table.md,crops.png}.
# Names given as arguments run only those settings.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A settings=(
  [slices-0.1.0]="--checkpoint brain_mri_slices --grid slices --estimate best"
  [windows-0.1.0]="--checkpoint brain_mri_slices --grid windows --estimate best --max-share 0.15"
  [windows-best]="--estimate best --max-share 0.15"
  [windows-mean]="--estimate mean --max-share 0.15"
  [windows-mean-biharmonic-blend]="--estimate mean --blend biharmonic --max-share 0.15"
  [windows-mean-min96]="--estimate mean --min-side 96 --max-share 0.15"
  [windows-mean-8-restarts]="--estimate mean --restarts 8 --max-share 0.15"
  [windows-mean-share05]="--estimate mean --max-share 0.05"
)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(slices-0.1.0 windows-0.1.0 windows-best windows-mean windows-mean-biharmonic-blend windows-mean-min96 windows-mean-8-restarts windows-mean-share05)
for name in "${names[@]}"; do
  # shellcheck disable=SC2086
  python benchmarks/bench_native_quality.py --out "results/native_ablation/$name" --label "$name" ${settings[$name]}
done
