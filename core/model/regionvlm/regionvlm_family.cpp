// The RegionVLM family. Two layouts:
// - "regionvlm-lavis": RegionChat's config.json (model_type "regionvlm") naming the files LAVIS
//   loads, with LAVIS' yaml keys: vit_model (eva_vit_g.pth, un-prefixed ViT keys, pos_embed
//   interpolated to the image size at load), pretrained (the BLIP-2 .pth, {"model": ...},
//   optional), finetuned (the RegionVLM .pth, {"model": ...}, loaded over it as LAVIS'
//   load_checkpoint does), t5_model (google/flan-t5-xl's folder: config.json, weights,
//   spiece.model) and bert_model (bert-base-uncased's vocab.txt and config.json).
// - "hf-blip2": a Blip2ForConditionalGeneration folder with a T5 text model. It has no slot
//   for the Q-Former's text parts, so it answers whole-image questions; regions are drawn.
// Every parameter is accounted for: missing ones are errors naming the files looked in;
// unused tensors and what the RegionVLM .pth superseded are reported.
#include <algorithm>
#include <fstream>
#include <set>

#include "io/config_reader.h"
#include "model/family.h"
#include "model/regionvlm/regionvlm.h"
#include "model/tensor_io.h"
#include "regionchat/error.h"
#include "regionchat/wordpiece.h"

namespace rc {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// RegionVLM's prompts (docs/regionvlm-layout.md §7), picked by what the user asks:
// - no region: whole-image VQA, "Question: {q} Short answer:" after the image's text-free
//   query rows (lavis/tasks/vqa.py); with no question at all, a caption of the whole image
//   (generate() with an empty Q-Former text and an empty T5 prompt);
// - one or more regions and no question beyond them (or "describe ..."): region captioning,
//   each region's rows and "</s>" (Blip2T5.generate's empty prompt);
// - regions and a question: VCR style (predict_answers_describe_first), "Let" + "[N] be" +
//   region N's rows per region, then "Question: {q} Answer: " with the regions written [N].
// FlanT5 has no chat template: earlier turns go in front of the question as
// "Question: {q} Answer: {a}" text, after the rows.
// The engine reads "<image>" as the image's text-free rows and "<points N>S</points>" as the
// rows of the Q-Former reading S; each piece is tokenised on its own, without </s> (the Eos
// piece adds it).
class RegionVlmTemplate : public ChatTemplate {
public:
    std::string name() const override { return kRegionVlmName; }
    std::vector<PromptPiece> render(const std::vector<ChatMessage>& messages) const override {
        std::vector<PromptPiece> out;
        auto text = [&](const std::string& t) { out.push_back({PromptPiece::Kind::Text, t, false}); };
        // The last user turn decides the prompt; earlier ones become history.
        size_t last_user = messages.size();
        for (size_t i = messages.size(); i-- > 0;)
            if (messages[i].role == ChatMessage::Role::User) {
                last_user = i;
                break;
            }
        std::string history;
        for (size_t i = 0; i < last_user; ++i) {
            const Parsed p = parse(messages[i].text);
            if (messages[i].role == ChatMessage::Role::User) {
                history += (history.empty() ? "" : " ") + std::string("Question: ") + p.question;
            } else {
                history += " Answer: " + messages[i].text;
            }
        }
        const bool answered = last_user + 1 < messages.size();
        if (last_user == messages.size()) return out;
        const Parsed p = parse(messages[last_user].text);
        if (p.regions.empty()) {
            if (p.question.empty() && history.empty()) {
                text("<points 0></points>");
            } else {
                text("<image>");
                if (!history.empty()) text(history);
                text("Question: " + p.question + " Short answer:");
            }
        } else if (is_caption_request(p.question) && history.empty()) {
            for (const auto& r : p.regions) text("<points " + r.first + ">" + r.second + "</points>");
        } else {
            text("Let");
            for (const auto& r : p.regions)
                text("[" + r.first + "] be<points " + r.first + ">" + r.second + "</points>");
            if (!history.empty()) text(history);
            text("Question: " + p.question + " Answer: ");
        }
        out.push_back({PromptPiece::Kind::Eos, {}, false});
        if (answered) {  // scoring: the answer the decoder is scored on
            out.push_back({PromptPiece::Kind::Text, messages[last_user + 1].text, true});
            out.push_back({PromptPiece::Kind::Eos, {}, true});
        }
        return out;
    }

private:
    struct Parsed {
        std::string question;  ///< regions written "[N]", "<image>" removed, trimmed
        std::vector<std::pair<std::string, std::string>> regions;  ///< id, point string
    };
    static Parsed parse(const std::string& t) {
        Parsed p;
        std::string q;
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, 7, "<image>") == 0) {
                i += 7;
                if (i < t.size() && t[i] == '\n') ++i;
                continue;
            }
            if (t.compare(i, 8, "<points ") == 0) {
                const size_t gt = t.find('>', i);
                const size_t close = gt == std::string::npos ? gt : t.find("</points>", gt);
                if (close != std::string::npos) {
                    const std::string id = t.substr(i + 8, gt - i - 8);
                    p.regions.emplace_back(id, t.substr(gt + 1, close - gt - 1));
                    q += "[" + id + "]";
                    i = close + 9;
                    continue;
                }
            }
            q += t[i++];
        }
        const size_t a = q.find_first_not_of(" \t\n"), b = q.find_last_not_of(" \t\n");
        p.question = a == std::string::npos ? std::string() : q.substr(a, b - a + 1);
        return p;
    }
    // No question beyond the regions, or a request to describe them.
    static bool is_caption_request(const std::string& q) {
        std::string s;
        bool in_ref = false;
        for (char ch : q) {
            if (ch == '[') in_ref = true;
            if (!in_ref && std::isalpha(static_cast<unsigned char>(ch)))
                s += char(std::tolower(static_cast<unsigned char>(ch)));
            else if (!in_ref && ch == ' ' && !s.empty() && s.back() != ' ')
                s += ' ';
            if (ch == ']') in_ref = false;
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        if (s.empty()) return true;
        static const char* const kCaption[] = {"describe", "caption", "what is this", "what is it",
                                               "what is that", "what is this region",
                                               "what is in this region"};
        for (const char* c : kCaption)
            if (s == c || (std::string(c).size() > 8 && s.rfind(c, 0) == 0)) return true;
        return s.rfind("describe", 0) == 0 || s.rfind("caption", 0) == 0;
    }
};

torch::Tensor to_float(const TensorView& v) {
    auto t = torch::empty(v.shape, torch::kFloat32);
    copy_view_into(v, t);
    return t;
}

std::string shape_text(const std::vector<int64_t>& s) {
    std::string out;
    for (auto d : s) out += (out.empty() ? "" : ", ") + std::to_string(d);
    return "[" + out + "]";
}

// Finds each parameter's tensor in the layout's files and copies it in.
class Loader {
public:
    explicit Loader(const RegionVlmConfig& c) : c_(c) {}

    void open() {
        if (c_.layout == kLayoutRegionVlmHf) {
            hf_ = SafetensorsArchive::open(c_.hf_dir);
            return;
        }
        std::error_code ec;
        for (const std::string* f : {&c_.vit_file, &c_.finetuned_file})
            if (!fs::is_regular_file(*f, ec)) throw Error(c_.source + ": '" + *f + "' is not a file");
        vit_ = SafetensorsArchive::open(c_.vit_file);
        if (!c_.pretrained_file.empty()) {
            if (!fs::is_regular_file(c_.pretrained_file, ec))
                throw Error(c_.source + ": pretrained '" + c_.pretrained_file + "' is not a file");
            pretrained_ = SafetensorsArchive::open(c_.pretrained_file);
        }
        finetuned_ = SafetensorsArchive::open(c_.finetuned_file);
        t5_ = SafetensorsArchive::open(c_.t5_dir);
        ft_prefix_ = prefix_of(*finetuned_);
        if (pretrained_) pt_prefix_ = prefix_of(*pretrained_);
    }

    uint64_t total_bytes() const {
        uint64_t n = 0;
        for (const auto* a : {hf_.get(), vit_.get(), pretrained_.get(), finetuned_.get(), t5_.get()})
            if (a) n += a->total_bytes();
        return n;
    }

    void fill(const std::string& name, torch::Tensor& param) {
        const SafetensorsArchive* archive = nullptr;
        std::string key;
        if (c_.layout == kLayoutRegionVlmHf) {
            if (fill_hf(name, param)) return;
            throw Error(c_.hf_dir + ": tensor '" + hf_key(name) + "' is missing");
        }
        if (starts_with(name, "visual_encoder.")) {
            archive = vit_.get();
            key = name.substr(15);
        } else if (starts_with(name, "t5_model.")) {
            archive = t5_.get();
            key = name.substr(9);
        } else {
            const TensorView* v = finetuned_->find(ft_prefix_ + name);
            if (v) {
                used_[finetuned_.get()].insert(v->name);
                if (pretrained_ && pretrained_->find(pt_prefix_ + name)) ++superseded_;
                copy(*v, param, name);
                return;
            }
            if (pretrained_) {
                if (const TensorView* p = pretrained_->find(pt_prefix_ + name)) {
                    used_[pretrained_.get()].insert(p->name);
                    ++from_pretrained_;
                    copy(*p, param, name);
                    return;
                }
            }
            throw Error(c_.finetuned_file + ": tensor '" + ft_prefix_ + name + "' is missing" +
                        (pretrained_ ? " (and from " + c_.pretrained_file + ")" : std::string()));
        }
        const TensorView* v = archive->find(key);
        if (!v && key == "shared.weight") v = archive->find("encoder.embed_tokens.weight");
        if (!v && key == "lm_head.weight" && c_.t5.tie_word_embeddings) v = archive->find("shared.weight");
        if (!v)
            throw Error((archive == vit_.get() ? c_.vit_file : c_.t5_dir) + ": tensor '" + key +
                        "' is missing");
        used_[archive].insert(v->name);
        if (key == "pos_embed") {
            auto t = interpolate_pos_embed(to_float(*v), c_.grid());
            check(t.sizes().vec(), param, v->file, key);
            param.copy_(t);
            bytes_ += v->nbytes;
            return;
        }
        copy(*v, param, name);
    }

    std::vector<std::string> report() const {
        std::vector<std::string> w;
        for (const auto* a : {hf_.get(), vit_.get(), pretrained_.get(), finetuned_.get(), t5_.get()}) {
            if (!a) continue;
            size_t unused = 0;
            std::string examples;
            const auto it = used_.find(a);
            for (const std::string& n : a->names()) {
                if (it != used_.end() && it->second.count(n)) continue;
                if (n.find("position_ids") != std::string::npos) continue;
                if (a == t5_.get() && (n == "encoder.embed_tokens.weight" || n == "decoder.embed_tokens.weight"))
                    continue;
                if (a == pretrained_.get()) continue;  // superseded by the RegionVLM .pth is normal
                ++unused;
                if (unused <= 5) examples += (examples.empty() ? "" : ", ") + n;
            }
            if (unused)
                w.push_back(std::string(a == hf_.get() ? c_.hf_dir : a == vit_.get() ? c_.vit_file
                                                       : a == finetuned_.get() ? c_.finetuned_file
                                                                               : c_.t5_dir) +
                            ": " + std::to_string(unused) + " tensors not used (" + examples +
                            (unused > 5 ? ", ..." : "") + ")");
        }
        if (warnings_k_bias_)
            w.push_back(c_.hf_dir + ": a qkv.bias has a non-zero k third, which EVA-ViT has not "
                                    "(it was dropped)");
        if (pretrained_ && from_pretrained_)
            w.push_back(std::to_string(from_pretrained_) + " tensors came from " + c_.pretrained_file +
                        " because " + c_.finetuned_file + " lacks them");
        return w;
    }
    uint64_t bytes() const { return bytes_; }
    size_t superseded() const { return superseded_; }
    bool hf_has_qformer_text() const {
        return hf_ && hf_->find("qformer.embeddings.word_embeddings.weight") != nullptr;
    }

private:
    static std::string prefix_of(const SafetensorsArchive& a) {
        for (const std::string& n : a.names())
            if (starts_with(n, "model.")) return "model.";
        return "";
    }

    static void check(const std::vector<int64_t>& got, const torch::Tensor& param,
                      const std::string& file, const std::string& key) {
        if (got != param.sizes().vec())
            throw Error(file + ": tensor '" + key + "' has shape " + shape_text(got) + ", expected " +
                        shape_text(param.sizes().vec()));
    }

    void copy(const TensorView& v, torch::Tensor& param, const std::string&) {
        check(v.shape, param, v.file, v.name);
        copy_view_into(v, param);
        bytes_ += v.nbytes;
    }

    static std::string hf_key(const std::string& name) {
        auto rep = [](std::string s, const std::string& a, const std::string& b) {
            const size_t at = s.find(a);
            if (at != std::string::npos) s.replace(at, a.size(), b);
            return s;
        };
        if (name == "visual_encoder.cls_token") return "vision_model.embeddings.class_embedding";
        if (name == "visual_encoder.pos_embed") return "vision_model.embeddings.position_embedding";
        if (starts_with(name, "visual_encoder.patch_embed.proj."))
            return rep(name, "visual_encoder.patch_embed.proj.", "vision_model.embeddings.patch_embedding.");
        if (starts_with(name, "visual_encoder.blocks.")) {
            std::string k = rep(name, "visual_encoder.blocks.", "vision_model.encoder.layers.");
            k = rep(k, ".norm1.", ".layer_norm1.");
            k = rep(k, ".norm2.", ".layer_norm2.");
            k = rep(k, ".attn.proj.", ".self_attn.projection.");
            k = rep(k, ".attn.qkv.", ".self_attn.qkv.");
            return k;
        }
        if (starts_with(name, "ln_vision.")) return rep(name, "ln_vision.", "vision_model.post_layernorm.");
        if (starts_with(name, "t5_proj.")) return rep(name, "t5_proj.", "language_projection.");
        if (starts_with(name, "t5_model.")) return rep(name, "t5_model.", "language_model.");
        if (starts_with(name, "Qformer.bert.embeddings.LayerNorm."))
            return rep(name, "Qformer.bert.embeddings.LayerNorm.", "qformer.layernorm.");
        if (starts_with(name, "Qformer.bert.")) {
            std::string k = rep(name, "Qformer.bert.", "qformer.");
            k = rep(k, ".crossattention.self.", ".crossattention.attention.");
            k = rep(k, ".attention.self.", ".attention.attention.");
            return k;
        }
        return name;
    }

    bool fill_hf(const std::string& name, torch::Tensor& param) {
        // q_bias / v_bias: the thirds of qkv.bias (its k third is zero in BLIP-2).
        const bool qb = name.size() > 7 && name.compare(name.size() - 7, 7, ".q_bias") == 0;
        const bool vb = name.size() > 7 && name.compare(name.size() - 7, 7, ".v_bias") == 0;
        if (qb || vb) {
            const std::string key = hf_key(name.substr(0, name.size() - 7) + ".qkv.bias");
            const TensorView* v = hf_->find(key);
            if (!v) return false;
            used_[hf_.get()].insert(v->name);
            auto b = to_float(*v);
            const int64_t W = param.size(0);
            if (b.numel() != 3 * W) throw Error(v->file + ": '" + key + "' is not 3 x the width");
            if (qb && b.narrow(0, W, W).abs().max().item<float>() != 0.0f)  // checked once per layer
                warnings_k_bias_ = true;
            param.copy_(b.narrow(0, qb ? 0 : 2 * W, W));
            bytes_ += v->nbytes / 3;
            return true;
        }
        std::string key = hf_key(name);
        const TensorView* v = hf_->find(key);
        if (!v && key == "language_model.shared.weight") v = hf_->find("language_model.encoder.embed_tokens.weight");
        if (!v) return false;
        used_[hf_.get()].insert(v->name);
        copy(*v, param, name);
        return true;
    }

    const RegionVlmConfig& c_;
    std::unique_ptr<SafetensorsArchive> hf_, vit_, pretrained_, finetuned_, t5_;
    std::string ft_prefix_, pt_prefix_;
    std::map<const SafetensorsArchive*, std::set<std::string>> used_;
    uint64_t bytes_ = 0;
    size_t superseded_ = 0, from_pretrained_ = 0;
    bool warnings_k_bias_ = false;
};

int64_t regionvlm_parameters(const RegionVlmConfig& c) {
    const int64_t W = c.vision_width, M = c.vision_mlp, g = c.grid(), P = c.patch_size;
    int64_t vit = W + (1 + g * g) * W + 3 * P * P * W + W;
    vit += int64_t(c.vision_depth) * (2 * W + 3 * W * W + 2 * W + W * W + W + 2 * W + W * M + M + M * W + W);
    const int64_t H = c.qf_hidden, I = c.qf_intermediate;
    int64_t qf = 2 * H + (c.qformer_text ? int64_t(c.qf_vocab) * H + int64_t(c.qf_max_positions) * H : 0);
    for (int i = 0; i < c.qf_layers; ++i) {
        qf += 4 * (H * H + H) + 2 * H;                                   // self-attention + output
        if (i % c.cross_attention_freq == 0) qf += 2 * (H * H + H) + 2 * (W * H + H) + 2 * H;
        qf += 2 * (H * I + I + I * H + H + 2 * H) / (c.qformer_text ? 1 : 2);  // FFNs
    }
    const auto& t = c.t5;
    const int64_t D = t.d_model, inner = int64_t(t.num_heads) * t.d_kv, F = t.d_ff;
    const int64_t ff = (t.gated ? 3 : 2) * D * F;
    int64_t t5 = int64_t(t.vocab_size) * D * (t.tie_word_embeddings ? 1 : 2) + 2 * D;
    t5 += int64_t(t.num_layers) * (4 * D * inner + ff + 2 * D) + int64_t(t.buckets) * t.num_heads;
    t5 += int64_t(t.num_decoder_layers) * (8 * D * inner + ff + 3 * D) + int64_t(t.buckets) * t.num_heads;
    return vit + 2 * W + qf + int64_t(c.num_query) * H + H * D + D + t5;
}

const char* description(const RegionVlmConfig& c) {
    return c.layout == kLayoutRegionVlmHf
               ? "BLIP-2 FlanT5 (Blip2ForConditionalGeneration; no Q-Former text input)"
               : "RegionVLM (LAVIS stack: EVA-ViT-g, BLIP-2 and RegionVLM checkpoints, FlanT5)";
}

class RegionVlmFamily : public ModelFamily {
public:
    Family id() const override { return Family::RegionVlm; }

    int recognise(const FolderProbe& probe) const override {
        const auto& j = probe.config;
        const auto t = j.find("model_type");
        if (t == j.end() || !t->is_string()) return 0;
        if (*t == "regionvlm") return 100;
        if (*t == "blip-2") {
            const auto tc = j.find("text_config");
            if (tc != j.end() && tc->is_object() && tc->value("model_type", "") == "t5") return 90;
        }
        return 0;
    }

    ModelConfig read_config(const FolderProbe& probe) const override {
        const RegionVlmConfig c = read_regionvlm_config(probe.config, probe.config_file.string(),
                                                        probe.dir.string());
        ModelConfig m;
        m.text.vocab_size = c.t5.vocab_size;
        m.text.hidden_size = c.t5.d_model;
        m.text.num_hidden_layers = c.t5.num_decoder_layers;
        m.text.num_attention_heads = c.t5.num_heads;
        m.text.num_key_value_heads = c.t5.num_heads;
        m.text.max_position_embeddings = 512;
        m.text.eos_token_id = c.t5.eos_token_id;
        m.chat_template = kRegionVlmName;
        m.region_format = "pixels";
        m.layout = c.layout;
        m.warnings = c.warnings;
        return m;
    }

    FamilyPlan plan(const FolderProbe& probe) const override {
        const RegionVlmConfig c = read_regionvlm_config(probe.config, probe.config_file.string(),
                                                        probe.dir.string());
        std::error_code ec;
        if (!fs::is_regular_file(c.tokenizer_file, ec))
            throw Error(c.tokenizer_file + " is missing (T5's SentencePiece model)");
        if (c.layout == kLayoutRegionVlmLavis && !fs::is_regular_file(c.bert_vocab, ec))
            throw Error(c.bert_vocab + " is missing (the Q-Former's BERT vocabulary)");
        FamilyPlan plan;
        plan.layout = c.layout;
        plan.layout_description = description(c);
        plan.parameters = regionvlm_parameters(c);
        plan.warnings = c.warnings;
        const auto& t = c.t5;
        // Decoder self-attention cache for 512 positions and the cross keys/values, x 5 beams.
        plan.kv_elements = 5ull * 2 * uint64_t(t.num_decoder_layers) * 1024 * t.num_heads * t.d_kv;
        const uint64_t g = uint64_t(c.grid()) * c.grid() + 1;
        plan.working_elements = g * g * c.vision_heads + g * c.vision_mlp + uint64_t(t.vocab_size) * 5;
        return plan;
    }

    FamilyModel load(const FolderProbe& probe, const LoadContext& ctx) const override {
        RegionVlmConfig c = read_regionvlm_config(probe.config, probe.config_file.string(),
                                                  probe.dir.string());
        FamilyModel m;
        m.config = read_config(probe);
        m.layout = c.layout;
        m.layout_description = description(c);
        m.warnings = c.warnings;
        std::error_code ec;
        if (!fs::is_regular_file(c.tokenizer_file, ec))
            throw Error(c.tokenizer_file + " is missing (T5's SentencePiece model)");
        m.tokenizer = Tokenizer::load(c.tokenizer_file);
        m.tokenizer->set_trailing_space_piece(true);  // T5TokenizerFast, as LAVIS uses
        if (m.tokenizer->vocab_size() > c.t5.vocab_size)
            throw Error(c.tokenizer_file + " has " + std::to_string(m.tokenizer->vocab_size()) +
                        " pieces but T5 embeds only " + std::to_string(c.t5.vocab_size));
        if (m.tokenizer->eos_id() != c.t5.eos_token_id)
            throw Error(c.tokenizer_file + ": its </s> is id " + std::to_string(m.tokenizer->eos_id()) +
                        ", the T5 config says " + std::to_string(c.t5.eos_token_id));
        std::shared_ptr<WordPiece> bert;
        if (c.layout == kLayoutRegionVlmLavis) {
            bert = std::make_shared<WordPiece>(WordPiece::load(c.bert_vocab));
            bert->add_token("[DEC]");  // init_tokenizer: add_special_tokens({"bos_token": "[DEC]"})
            c.qf_vocab = bert->size();
        }
        m.chat_template = std::make_unique<RegionVlmTemplate>();
        m.region_format = make_builtin_region_format("pixels");

        Loader loader(c);
        loader.open();
        if (c.layout == kLayoutRegionVlmHf && loader.hf_has_qformer_text())
            m.warnings.push_back(c.hf_dir + ": Q-Former text weights found but not read "
                                            "(this layout answers whole-image questions)");
        RegionVlmNet net = build_and_fill<RegionVlmNet>(
            c, ctx, loader.total_bytes(),
            [&](const std::string& name, torch::Tensor& p) { loader.fill(name, p); },
            [&] { return loader.bytes(); });
        for (std::string& w : loader.report()) m.warnings.push_back(std::move(w));
        m.bytes_loaded = loader.bytes();
        m.network = std::make_unique<RegionVlmNetwork>(net, bert, ctx.device, ctx.dtype);
        m.beam_length_offset = 1;  // the decoder's input_ids start with decoder_start_token_id
        m.reads_region_text = c.qformer_text;
        m.reads_region_points = c.qformer_text;
        // Blip2T5.generate and predict_answers_describe_first: 5 beams, length penalty 1 (the
        // whole-image VQA setting's -1 is for its benchmarks; --length-penalty -1 gives it).
        m.default_beams = 5;
        m.default_length_penalty = 1.0;
        return m;
    }

    std::unique_ptr<ChatTemplate> chat_template(const std::string& name,
                                                const std::string&) const override {
        if (name != kRegionVlmName) return nullptr;
        return std::make_unique<RegionVlmTemplate>();
    }
    std::vector<std::string> chat_template_names() const override { return {kRegionVlmName}; }
};

}  // namespace

const ModelFamily& regionvlm_family() {
    static const RegionVlmFamily family;
    return family;
}

}  // namespace rc
