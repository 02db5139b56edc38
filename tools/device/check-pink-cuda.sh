#!/bin/bash
# Run on the GPU machine from the repository root (carry .devkit, as for bench-7b.sh), e.g.
#   run: bash tools/device/check-pink-cuda.sh
# One device call: CUDA build, a tiny random Pink set (make-checkpoint DIR pink), the same
# greedy question on the CPU in fp32 and on CUDA in fp32, fp16 and bf16 (Pink's adapters
# stay fp32 under the 16-bit dtypes), then the 7B-shape speed with a 576 + 50 token prefill.
source tools/device/unpack-and-build.sh
$R/build-cuda/tests/make-checkpoint /tmp/pk pink | tail -1
img=$R/resources/samples/$(ls $R/resources/samples | grep -m1 -E '\.(png|jpg)$')
for dd in "cpu fp32" "cuda fp32" "cuda fp16" "cuda bf16"; do
  set -- $dd
  $E ask --model /tmp/pk/pink-tiny --image "$img" --box 10,10,120,90 --max-new-tokens 12 \
    --question "What is in <region>?" --device $1 --dtype $2 --json > $OUT/pink-$1-$2.json 2>&1
  echo "pink $1 $2: rc=$? $(tr -d '\n' < $OUT/pink-$1-$2.json | head -c 300)"
done
echo "pink done after $(( $(date +%s) - start )) s"
$R/build-cuda/tests/make-checkpoint /tmp/ck7 7b | tail -1
/usr/bin/time -v $E speed --model /tmp/ck7 --device cuda --dtype fp16 --runs 5 --text-tokens 50 \
  --new-tokens 128 2> /tmp/sp.time | tee $OUT/speed-7b-fp16-626.txt
grep -E "Elapsed|Maximum resident" /tmp/sp.time
echo "all done after $(( $(date +%s) - start )) s"
