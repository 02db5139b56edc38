#include "model/layers.h"

namespace rc {

namespace {
thread_local bool g_skip_init = false;
}  // namespace

SkipInit::SkipInit() : outer_(g_skip_init) {
    g_skip_init = true;
}

SkipInit::~SkipInit() {
    g_skip_init = outer_;
}

bool init_skipped() {
    return g_skip_init;
}

}  // namespace rc
