#!/bin/bash
# Run on the GPU machine from the repository root (carry .devkit: devkit.tar.xz from
# make-devkit.sh and src.tar.xz = `git archive HEAD | xz`), e.g. run: bash tools/device/finetune.sh
# One device call: build the committed tree with CUDA, fine-tune shapes-tiny, pick an export.
export PYTHONUNBUFFERED=1
source tools/device/unpack-and-build.sh
T=$R/build-cuda/app/regionchat-train
STEPS=${STEPS:-5500}
setsid nohup $T --out /tmp/m --work /tmp/w --init $R/resources/models/shapes-tiny --seed 2 \
  --batch 64 --steps $STEPS --lr 3e-4 --warmup 100 --curriculum 1 --device cuda \
  --data-threads 12 --threads 4 --save-every 500 --max-minutes 6.3 > /tmp/train.log 2>&1 < /dev/null &
sleep 30; grep -v '^$' /tmp/train.log | tail -2
while pgrep -f regionchat-train > /dev/null; do
  s=$(python3 -c "import json;print(json.load(open('/tmp/w/state.json'))['step'])" 2>/dev/null)
  if [ -n "$s" ] && [ ! -d /tmp/snap/$s ]; then mkdir -p /tmp/snap && cp -r /tmp/m /tmp/snap/$s; fi
  sleep 3
done
s=$(python3 -c "import json;print(json.load(open('/tmp/w/state.json'))['step'])")
mkdir -p /tmp/snap; [ -d /tmp/snap/$s ] || cp -r /tmp/m /tmp/snap/$s
grep -v '^$' /tmp/train.log | tail -3; cp /tmp/train.log $OUT/
echo "training done after $(( $(date +%s) - start )) s; snapshots: $(ls /tmp/snap | sort -n | tr '\n' ' ')"
rm -f $OUT/build.log
for s in $(ls /tmp/snap | sort -n | tail -2); do
  $E eval-synth --model /tmp/snap/$s --seed 1000000777 --count 40 --device cuda > /tmp/eval-$s.log 2>&1
  echo "== step $s" | tee -a $OUT/evals.log; grep '^|' /tmp/eval-$s.log | tee -a $OUT/evals.log
  echo "$(awk -F'|' '/region_description|region_colour/ {a+=$4} END {printf "%.4f", a}' /tmp/eval-$s.log) $s" >> /tmp/choice.txt
done
best=$(sort -k1,1nr -k2,2nr /tmp/choice.txt | head -1 | awk '{print $2}')
cp /tmp/choice.txt $OUT/; echo "chosen: $best (evals done after $(( $(date +%s) - start )) s)"
split -b 12M /tmp/snap/$best/model.safetensors $OUT/model.part.
cp /tmp/snap/$best/config.json $OUT/
