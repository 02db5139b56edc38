// SentencePiece wrapper: loading, LLaMA-style BOS/EOS, and in-memory training for tests.
#include "regionchat/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "regionchat/error.h"
#include "text/spm_model_check.h"
#include "text/spm_plugin.h"

namespace rc {

namespace {

// dlopen with RTLD_DEEPBIND. AddressSanitizer's dlopen interceptor refuses that flag (it would
// let a library bind malloc past the sanitizer); here only the plugin and libsentencepiece are
// deep-bound and their memory still comes from libstdc++'s operator new, bound to ASan's malloc
// when libstdc++ loaded. So the ASan build (packaging/test.sh --sanitize) calls libc's own
// dlopen, found through a handle to the already loaded libc.
void* open_deep(const std::string& path) {
    const int flags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#if defined(__SANITIZE_ADDRESS__)
    using DlOpen = void* (*)(const char*, int);
    static const DlOpen real = [] {
        void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        return libc ? reinterpret_cast<DlOpen>(dlsym(libc, "dlopen")) : nullptr;
    }();
    if (real) return real(path.c_str(), flags);
#endif
    return dlopen(path.c_str(), flags);
}

// Finds and opens the SentencePiece plugin once per process (see spm_plugin.h for why).
const spm::Api& api() {
    static const spm::Api* table = nullptr;
    static std::string failure;
    static std::once_flag once;
    std::call_once(once, [] {
        namespace fs = std::filesystem;
        std::vector<std::string> candidates;
        if (const char* env = std::getenv("REGIONCHAT_SPM_PLUGIN"); env && *env)
            candidates.push_back(env);
        std::error_code ec;
        const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
        if (!ec) {
            candidates.push_back((exe.parent_path() / "libregionchat_spm.so").string());
            candidates.push_back(  // installed: packaging/install.cmake
                (exe.parent_path() / "../lib/regionchat/plugins/libregionchat_spm.so").string());
        }
        candidates.push_back(REGIONCHAT_SPM_PLUGIN_PATH);
        for (const auto& path : candidates) {
            if (!fs::exists(path, ec)) continue;
            void* lib = open_deep(path);
            if (!lib) {
                failure = dlerror();
                continue;
            }
            auto fn = reinterpret_cast<const spm::Api* (*)()>(dlsym(lib, "regionchat_spm_api"));
            if (fn && fn()->version == spm::kApiVersion) {
                table = fn();
                return;
            }
            failure = path + " is not a compatible RegionChat SentencePiece plugin";
        }
        if (failure.empty()) failure = "libregionchat_spm.so was not found next to the program";
    });
    if (!table) throw Error("cannot load the tokenizer library: " + failure);
    return *table;
}

// SentencePiece's user_defined_symbols flag is comma separated.
std::string join_symbols(const std::vector<std::string>& symbols) {
    std::string joined;
    for (const std::string& s : symbols) {
        if (s.find(',') != std::string::npos)
            throw Error("tokenizer training: user symbol contains a comma: " + s);
        if (s.empty()) continue;
        if (!joined.empty()) joined += ',';
        joined += s;
    }
    return joined;
}

}  // namespace

Tokenizer::~Tokenizer() {
    if (handle_) api().destroy(handle_);
    if (plain_) api().destroy(plain_);
}

void Tokenizer::set_legacy(bool legacy) {
    if (!legacy && !plain_) {
        std::string error;
        plain_ = api().load_without_prefix(path_, &error);
        if (!plain_) throw Error("tokenizer " + path_ + " (legacy false): " + error);
    }
    legacy_ = legacy;
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
    {
        // SentencePiece trusts what it reads (spm_model_check.h): read the file once, bounded,
        // and check it before SentencePiece loads it.
        namespace fs = std::filesystem;
        std::error_code ec;
        if (!fs::is_regular_file(path, ec)) throw Error("cannot open tokenizer model: " + path);
        const auto size = fs::file_size(path, ec);
        if (ec) throw Error("cannot open tokenizer model: " + path);
        if (size > kMaxSentencePieceModelBytes)
            throw Error("tokenizer model " + path + " is " + std::to_string(size >> 20) +
                        " MB; SentencePiece models are a few MB (at most " +
                        std::to_string(kMaxSentencePieceModelBytes >> 20) + " MB read)");
        std::ifstream in(path, std::ios::binary);
        std::string bytes(size_t(size), '\0');
        if (!in || !in.read(bytes.data(), std::streamsize(bytes.size())))
            throw Error("cannot read tokenizer model: " + path);
        const std::string problem = sentencepiece_model_problem(bytes);
        if (!problem.empty())
            throw Error("tokenizer model " + path + " is refused: " + problem);
    }
    const spm::Api& sp = api();
    std::unique_ptr<Tokenizer> tok(new Tokenizer());
    std::string error;
    tok->path_ = path;
    tok->handle_ = sp.load(path, &error);
    if (!tok->handle_) throw Error("invalid tokenizer model " + path + ": " + error);
    tok->size_ = sp.piece_size(tok->handle_);
    if (tok->size_ <= 0) throw Error("tokenizer model has no pieces: " + path);

    // Prefer the model's own control ids; fall back to the LLaMA pieces if they are unset.
    tok->bos_ = sp.bos_id(tok->handle_);
    tok->eos_ = sp.eos_id(tok->handle_);
    if (tok->bos_ < 0) tok->bos_ = sp.piece_to_id(tok->handle_, "<s>");
    if (tok->eos_ < 0) tok->eos_ = sp.piece_to_id(tok->handle_, "</s>");
    tok->sp_eos_ = tok->eos_;
    tok->unk_ = sp.piece_to_id(tok->handle_, "<unk>");
    const int space = sp.piece_to_id(tok->handle_, "\u2581");
    tok->space_id_ = space == tok->unk_ ? -1 : space;
    return tok;
}

std::vector<int> Tokenizer::encode_pieces(const std::string& text) const {
    std::vector<int> ids;
    std::string error;
    if (!api().encode(handle_, text, &ids, &error))
        throw Error("tokenizer encode failed: " + error);
    return ids;
}

// transformers' legacy=false (LlamaTokenizer._tokenize): SentencePiece without the dummy
// prefix; a piece that starts with a space is encoded after "<unk>" and the "<unk>" pieces
// dropped, so the space stays a leading "\u2581" whatever the normaliser does to leading space.
std::vector<int> Tokenizer::encode_without_prefix(const std::string& text) const {
    auto plain = [&](const std::string& t) {
        std::vector<int> ids;
        std::string error;
        if (!api().encode(plain_, t, &ids, &error))
            throw Error("tokenizer encode failed: " + error);
        return ids;
    };
    static const std::string kSpace = "\u2581", kUnk = "<unk>";
    if (text.empty() || !(text[0] == ' ' || text.compare(0, kSpace.size(), kSpace) == 0))
        return plain(text);
    const size_t skip = plain(kUnk).size();
    std::vector<int> ids = plain(kUnk + text);
    if (ids.size() < skip) return ids;
    return std::vector<int>(ids.begin() + std::ptrdiff_t(skip), ids.end());
}

std::vector<int> Tokenizer::encode(const std::string& given, bool add_bos,
                                   const std::vector<std::pair<std::string, int>>& extra) const {
    // legacy=false (LlamaTokenizer.tokenize): "\u2581" in the text becomes a space and one
    // "\u2581" goes in front, so the first piece is encoded like every piece after a space.
    static const std::string kSpace = "\u2581";
    std::string text = given;
    if (!legacy_ && !text.empty()) {
        for (size_t at = text.find(kSpace); at != std::string::npos; at = text.find(kSpace, at + 1))
            text.replace(at, kSpace.size(), " ");
        text = kSpace + text;
    }
    std::vector<int> ids;
    if (add_bos) ids.push_back(bos_);
    // What the slow tokenizer splits out: its special tokens, the added ones, the caller's.
    const std::pair<std::string, int> specials[] = {{"<s>", bos_}, {"</s>", sp_eos_}, {"<unk>", unk_}};
    bool first = true;
    for (size_t from = 0;;) {
        // The earliest split token; at one position the longest.
        size_t at = std::string::npos;
        const std::pair<std::string, int>* hit = nullptr;
        auto consider = [&](const std::pair<std::string, int>& t) {
            const size_t p = text.find(t.first, from);
            if (p < at || (p == at && p != std::string::npos && t.first.size() > hit->first.size())) {
                at = p;
                hit = &t;
            }
        };
        for (const auto& t : added_) consider(t);
        for (const auto& t : specials) consider(t);
        for (const auto& t : extra) consider(t);
        const std::string chunk = text.substr(from, at == std::string::npos ? at : at - from);
        // legacy=false: the "\u2581" put in front stands alone before a split token and is
        // dropped there (transformers drops it before a special token; every split token here
        // is one).
        const bool lone_prefix = !legacy_ && first && chunk == kSpace && hit;
        if (!chunk.empty() && !lone_prefix) {
            const std::vector<int> piece_ids =
                legacy_ ? encode_pieces(chunk) : encode_without_prefix(chunk);
            ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
        }
        first = false;
        if (!hit) break;
        ids.push_back(hit->second);
        from = at + hit->first.size();
    }
    if (trailing_space_ && space_id_ >= 0 && !given.empty() && given.back() == ' ' &&
        given.find_first_not_of(' ') != std::string::npos)
        ids.push_back(space_id_);
    return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
    const int size = size_;
    std::string text;
    std::vector<int> kept;
    kept.reserve(ids.size());
    auto flush = [&] {
        if (kept.empty()) return;
        std::string part;
        if (api().decode(handle_, kept, &part)) text += part;
        kept.clear();
    };
    for (int id : ids) {
        if (id == bos_ || id == eos_ || id == sp_eos_) continue;
        if (id < 0 || id >= size) {
            if (std::find(silent_.begin(), silent_.end(), id) != silent_.end()) continue;
            for (const auto& t : added_)
                if (t.second == id) {
                    flush();
                    text += t.first;
                    break;
                }
            continue;
        }
        kept.push_back(id);
    }
    flush();
    return text;
}

void Tokenizer::add_tokens(const std::vector<std::pair<std::string, int>>& tokens,
                           bool special) {
    for (const auto& t : tokens) {
        if (t.first.empty()) throw Error("an added token has no text");
        added_.push_back(t);
        if (special) silent_.push_back(t.second);
    }
    std::stable_sort(added_.begin(), added_.end(), [](const auto& a, const auto& b) {
        return a.first.size() > b.first.size();
    });
}

int Tokenizer::vocab_size() const {
    return size_;
}

void Tokenizer::train(const std::vector<std::string>& sentences, const std::string& model_path,
                      int vocab_size, const std::vector<std::string>& user_symbols) {
    if (sentences.empty()) throw Error("tokenizer training: no sentences for " + model_path);
    if (vocab_size <= 0) throw Error("tokenizer training: vocab_size must be positive");

    // Like LLaMA's tokenizer: BPE, byte fallback, split digits, unk/bos/eos 0/1/2, no pad. Unlike
    // it, the default nmt_nfkc normalizer stays (extra whitespace removed, "\n" becomes a space),
    // so " A1" encodes like "A1", which the chat templates' answer pieces rely on. One thread and
    // no sampling keep the result deterministic.
    std::unordered_map<std::string, std::string> args = {
        {"model_type", "bpe"},
        {"vocab_size", std::to_string(vocab_size)},
        {"unk_id", "0"},
        {"bos_id", "1"},
        {"eos_id", "2"},
        {"pad_id", "-1"},
        {"byte_fallback", "true"},
        {"split_digits", "true"},
        {"character_coverage", "1.0"},
        {"hard_vocab_limit", "false"},
        {"add_dummy_prefix", "true"},
        {"num_threads", "1"},
        {"shuffle_input_sentence", "false"},
        {"input_sentence_size", "0"},
        {"minloglevel", "2"},
    };
    const std::string symbols = join_symbols(user_symbols);
    if (!symbols.empty()) args["user_defined_symbols"] = symbols;

    // With byte fallback 259 ids are taken before any character, so a small vocab_size (300) can
    // be smaller than the characters of the corpus; SentencePiece then refuses to train. Rather
    // than exceed the requested size (callers size embeddings by it), drop the rarest characters
    // by lowering the coverage step by step: they still encode, through byte pieces.
    static const char* const kCoverages[] = {"1.0",   "0.9999", "0.9995", "0.999", "0.998",
                                             "0.995", "0.99",   "0.98",   "0.95",  "0.9",
                                             "0.8",   "0.6",    "0.4"};
    const spm::Api& sp = api();
    std::string serialized, error;
    bool ok = false;
    for (const char* coverage : kCoverages) {
        args["character_coverage"] = coverage;
        error.clear();
        ok = sp.train(args, sentences, &serialized, &error);
        if (ok || error.find("required_chars") == std::string::npos) break;
    }
    if (!ok) throw Error("tokenizer training failed for " + model_path + ": " + error);

    std::ofstream out(model_path, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write tokenizer model: " + model_path);
    out.write(serialized.data(), static_cast<std::streamsize>(serialized.size()));
    if (!out) throw Error("cannot write tokenizer model: " + model_path);
}

}  // namespace rc
