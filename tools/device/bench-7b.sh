#!/bin/bash
# Run on the GPU machine from the repository root (carry .devkit: devkit.tar.xz from
# make-devkit.sh and src.tar.xz = `git archive HEAD | xz`), e.g. run: bash tools/device/bench-7b.sh
# One device call: CUDA build, a random checkpoint with LLaVA-1.5-7B's shapes, speed figures.
source tools/device/unpack-and-build.sh
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
/usr/bin/time -v $R/build-cuda/tests/make-checkpoint /tmp/ck7 7b 2> /tmp/mk.time | tail -1
grep -E "Elapsed|Maximum resident" /tmp/mk.time; du -sh /tmp/ck7
echo "checkpoint after $(( $(date +%s) - start )) s"
/usr/bin/time -v $E speed --model /tmp/ck7 --device cuda --dtype fp16 --runs 5 --new-tokens 128 2> /tmp/sp.time | tee $OUT/speed-7b-fp16.txt
grep -E "Elapsed|Maximum resident" /tmp/sp.time
echo "fp16 after $(( $(date +%s) - start )) s"
$E speed --model /tmp/ck7 --device cuda --dtype bf16 --runs 3 --new-tokens 64 2>&1 | tail -8 | tee $OUT/speed-7b-bf16.txt
echo "bf16 after $(( $(date +%s) - start )) s"
$E speed --model $R/resources/models/shapes-tiny --device cuda --runs 5 2>&1 | tail -8 | tee $OUT/speed-tiny-cuda.txt
echo "all done after $(( $(date +%s) - start )) s"
