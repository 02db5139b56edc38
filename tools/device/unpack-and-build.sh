# Sourced (not run) by the device scripts, from the repository root on the GPU machine:
# unpacks .devkit/src.tar.xz (the committed tree) into /tmp/src, builds it with CUDA
# (build.sh), and leaves start (seconds), R (the source root, now the working directory), E
# (regionchat-cli) and the library path set. Exits with the build log's tail on failure.
start=${start:-$(date +%s)}
mkdir -p /tmp/src && tar -C /tmp/src -xJf .devkit/src.tar.xz && cp -r .devkit /tmp/src/
cd /tmp/src; R=$PWD
tools/device/build.sh > $OUT/build.log 2>&1 || { tail -60 $OUT/build.log; exit 1; }
echo "build done after $(( $(date +%s) - start )) s"; rm -f $OUT/build.log
export LD_LIBRARY_PATH=/tmp/devkit/lib:$LD_LIBRARY_PATH
E=$R/build-cuda/app/regionchat-cli
