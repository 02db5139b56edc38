#include "model/huge_pages.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace rc {

namespace {
bool huge_pages_wanted() {
    static const bool wanted = [] {
        const char* v = std::getenv("REGIONCHAT_NO_HUGE_PAGES");
        return !v || !*v || std::strcmp(v, "0") == 0;
    }();
    return wanted;
}
}  // namespace

void advise_huge_pages(const torch::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr uintptr_t huge = uintptr_t(2) << 20;
    if (!t.defined() || !t.device().is_cpu() || !huge_pages_wanted()) return;
    const size_t bytes = t.storage().nbytes();
    if (bytes < 2 * huge) return;
    const auto start = reinterpret_cast<uintptr_t>(t.storage().data());
    const uintptr_t first = (start + huge - 1) & ~(huge - 1);
    const uintptr_t last = (start + bytes) & ~(huge - 1);
    // Advice only: a kernel without THP answers EINVAL and the weights stay in small pages.
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
    (void)t;
#endif
}

torch::Tensor empty_huge(c10::IntArrayRef sizes, const torch::TensorOptions& options) {
    auto t = torch::empty(sizes, options);
    advise_huge_pages(t);
    return t;
}

}  // namespace rc
