#include "train/shapes_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <deque>
#include <fstream>
#include <future>
#include <random>
#include <type_traits>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "engine/prompt.h"
#include "model/llava/llava_family.h"
#include "model/tensor_io.h"
#include "regionchat/chat_template.h"
#include "regionchat/error.h"
#include "regionchat/preprocess.h"
#include "regionchat/safetensors.h"
#include "regionchat/synth.h"
#include "regionchat/tokenizer.h"

namespace rc::train {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

ModelConfig shapes_tiny_config() {
    ModelConfig c;
    c.vision.hidden_size = 192;
    c.vision.intermediate_size = 768;
    c.vision.num_hidden_layers = 4;
    c.vision.num_attention_heads = 3;
    c.vision.image_size = 128;
    c.vision.patch_size = 16;
    c.vision.hidden_act = "quick_gelu";
    c.text.hidden_size = 256;
    c.text.intermediate_size = 688;
    c.text.num_hidden_layers = 4;
    c.text.num_attention_heads = 4;
    c.text.num_key_value_heads = 2;
    c.text.max_position_embeddings = 512;
    c.text.rms_norm_eps = 1e-5;
    c.text.rope_theta = 10000.0;
    c.vision_feature_layer = -2;
    c.vision_feature_select_strategy = "default";
    c.projector_type = "mlp2x_gelu";
    c.chat_template = "vicuna_v1";
    c.region_format = "dualfocus";
    c.image_aspect = "pad";
    return c;
}

namespace {

// Every text the model will read or write, for training the tokenizer.
std::vector<std::string> tokenizer_corpus(const ChatTemplate& tmpl) {
    std::vector<std::string> out;
    for (uint64_t seed = 0; seed < 1500; ++seed) {
        const auto scene = synth::generate_scene(seed);
        for (const auto& sample : synth::make_samples(scene, seed))
            for (const auto& t : sample.turns) {
                out.push_back(t.question);
                out.push_back(t.answer);
            }
    }
    std::vector<ChatMessage> msgs{{ChatMessage::Role::User, "Q"},
                                  {ChatMessage::Role::Assistant, "A"},
                                  {ChatMessage::Role::User, "Q"}};
    for (const auto& p : tmpl.render(msgs))
        if (p.kind == PromptPiece::Kind::Text)
            for (int i = 0; i < 50; ++i) out.push_back(p.text);
    return out;
}

// "0.00" ... "1.00": every DualFocus coordinate is one piece, so a region's four numbers
// are four tokens whose embeddings can be learned directly (as Pink and Shikra-style
// models do with their coordinate words).
std::vector<std::string> coordinate_symbols() {
    std::vector<std::string> out;
    char buf[8];
    for (int i = 0; i <= 100; ++i) {
        std::snprintf(buf, sizeof buf, "%d.%02d", i / 100, i % 100);
        out.push_back(buf);
    }
    return out;
}

// LLaMA-style init: normal(0, 0.02) matrices, zero biases, unit norms.
void init_weights(torch::nn::Module& net) {
    torch::NoGradGuard ng;
    for (auto& item : net.named_parameters(true)) {
        const std::string& n = item.key();
        auto& p = item.value();
        const bool is_norm =
            n.find("norm") != std::string::npos || n.find("layrnorm") != std::string::npos;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0)
            p.zero_();
        else if (is_norm)
            p.fill_(1.0);
        else
            p.normal_(0.0, 0.02);
    }
}

// Dense labels for one scene image on the vision tower's patch grid, for the auxiliary
// heads (AuxHeads below). A patch belongs to the object whose box covers most of it (or
// whose box centre it holds); positions are in the original image's normalized frame, the
// one region text uses.
struct PatchLabels {
    std::vector<int64_t> colour, shape, anchor, pos_x, pos_y;  // [P] class indices
    std::vector<int64_t> box_bins;                             // [P*4], -100 on background
    std::vector<float> box;                                    // [P*4]
    std::vector<float> box_mask;                               // [P]
};

constexpr int kBoxBins = 20;
constexpr int kPosBins = 10;
constexpr int64_t kAuxOutputs = (synth::kColourCount + 1) + (synth::kShapeCount + 1) * 2 +
                                4 * kBoxBins + 4 + (kPosBins + 1) * 2;

PatchLabels patch_labels(const synth::Scene& scene, int image_size, int patch_size) {
    const int grid = image_size / patch_size;
    const double w = scene.image.cols, h = scene.image.rows, side = std::max(w, h);
    const double ox = (side - w) / 2, oy = (side - h) / 2, scale = side / image_size;
    PatchLabels L;
    for (int r = 0; r < grid; ++r)
        for (int c = 0; c < grid; ++c) {
            // The patch in original pixels.
            const double px0 = c * patch_size * scale - ox, py0 = r * patch_size * scale - oy;
            const double px1 = px0 + patch_size * scale, py1 = py0 + patch_size * scale;
            const double cx = (px0 + px1) / 2, cy = (py0 + py1) / 2;
            const bool inside = cx >= 0 && cx < w && cy >= 0 && cy < h;
            L.pos_x.push_back(inside ? std::min<int64_t>(kPosBins - 1, int64_t(cx / w * kPosBins))
                                     : kPosBins);
            L.pos_y.push_back(inside ? std::min<int64_t>(kPosBins - 1, int64_t(cy / h * kPosBins))
                                     : kPosBins);
            const synth::SceneObject* best = nullptr;
            double best_cover = 0;
            int64_t anchor = synth::kShapeCount;
            for (const auto& o : scene.objects) {
                const double ix = std::max(0.0, std::min(px1, o.box.x1) - std::max(px0, o.box.x0));
                const double iy = std::max(0.0, std::min(py1, o.box.y1) - std::max(py0, o.box.y0));
                const double ocx = (o.box.x0 + o.box.x1) / 2, ocy = (o.box.y0 + o.box.y1) / 2;
                const bool holds_centre = ocx >= px0 && ocx < px1 && ocy >= py0 && ocy < py1;
                if (holds_centre) anchor = static_cast<int64_t>(o.shape);
                double cover = ix * iy / ((px1 - px0) * (py1 - py0));
                if (holds_centre) cover += 1.0;
                if (cover > best_cover && cover >= 0.15) best = &o, best_cover = cover;
            }
            L.anchor.push_back(anchor);
            L.colour.push_back(best ? int64_t(best->colour) : synth::kColourCount);
            L.shape.push_back(best ? int64_t(best->shape) : synth::kShapeCount);
            L.box_mask.push_back(best ? 1.f : 0.f);
            const double v[4] = {best ? best->box.x0 / w : 0, best ? best->box.y0 / h : 0,
                                 best ? best->box.x1 / w : 0, best ? best->box.y1 / h : 0};
            for (double x : v) {
                L.box.push_back(static_cast<float>(x));
                L.box_bins.push_back(
                    best ? std::clamp<int64_t>(int64_t(x * kBoxBins), 0, kBoxBins - 1) : -100);
            }
        }
    return L;
}

struct Batch {
    torch::Tensor pixels;              // [N, 3, S, S]
    torch::Tensor ids;                 // [B, L] (image positions and padding: 0)
    torch::Tensor targets;             // [B, L] next-token targets, -100 where ignored
    torch::Tensor image_mask;          // [B, L] bool
    std::vector<int64_t> image_order;  // image indices in (row, position) order
    int64_t answer_tokens = 0;
    // Auxiliary dense labels of the scene images (rows of `pixels` in aux_images).
    std::vector<int64_t> aux_images;
    torch::Tensor aux_colour, aux_shape, aux_anchor, aux_pos_x, aux_pos_y;  // [M, P]
    torch::Tensor aux_box_bins;                                             // [M, P, 4]
    torch::Tensor aux_box;                                                  // [M, P, 4]
    torch::Tensor aux_box_mask;                                             // [M, P]

    // The tensors on the training device (index lists stay on the host).
    void to(const torch::Device& d) {
        for (torch::Tensor* t : {&pixels, &ids, &targets, &image_mask, &aux_colour, &aux_shape,
                                 &aux_anchor, &aux_pos_x, &aux_pos_y, &aux_box_bins, &aux_box,
                                 &aux_box_mask})
            if (t->defined()) *t = t->to(d, /*non_blocking=*/false);
    }
};

// One training conversation per scene: every sample's turns in a shuffled order, the scene
// attached to the first question only (as in a real multi-turn chat), a DualFocus pair (box
// turn, then the micro turn carrying the crop) kept together. One image encode supervises
// many answers, and follow-up questions look like the app's conversations. Samples are
// dropped from the end until the sequence fits the context.
PromptSequence scene_conversation(const Tokenizer& tok, const ChatTemplate& tmpl,
                                  const ModelConfig& cfg, const PreprocessOptions& pre,
                                  uint64_t seed, std::vector<torch::Tensor>* pixels,
                                  std::vector<PatchLabels>* labels, const synth::SceneOptions& so) {
    const auto scene = synth::generate_scene(seed, so);
    auto samples = synth::make_samples(scene, seed);
    std::mt19937_64 rng(seed * 7919u + 13u);
    std::shuffle(samples.begin(), samples.end(), rng);
    const int64_t limit = cfg.text.max_position_embeddings;
    for (size_t keep = samples.size(); keep > 0; --keep) {
        std::vector<ChatMessage> msgs;
        std::vector<const cv::Mat*> images;
        for (size_t k = 0; k < keep; ++k) {
            const auto& sample = samples[k];
            for (const auto& t : sample.turns) {
                std::string q = t.question;
                const cv::Mat* img = t.image == 0   ? &scene.image
                                     : t.image == 1 ? &sample.crop
                                                    : nullptr;
                if (img && (t.image == 1 || images.empty())) {
                    q = "<image>\n" + q;
                    images.push_back(img);
                }
                msgs.push_back({ChatMessage::Role::User, q});
                msgs.push_back({ChatMessage::Role::Assistant, t.answer});
            }
        }
        auto seq = build_prompt_sequence(tmpl, tok, msgs, cfg.image_tokens(), images.size());
        if (static_cast<int64_t>(seq.keys.size()) <= limit || keep == 1) {
            for (const cv::Mat* img : images) pixels->push_back(preprocess_image(*img, pre));
            if (!images.empty())
                labels->push_back(
                    patch_labels(scene, cfg.vision.image_size, cfg.vision.patch_size));
            return seq;
        }
    }
    return {};
}

Batch make_batch(const Tokenizer& tok, const ChatTemplate& tmpl, const ModelConfig& cfg,
                 const PreprocessOptions& pre, uint64_t first_seed, int batch_size,
                 const synth::SceneOptions& so) {
    std::vector<PromptSequence> seqs;
    std::vector<torch::Tensor> pixels;
    std::vector<int64_t> image_base;  // index of each sequence's first image in `pixels`
    std::vector<PatchLabels> labels;  // one per conversation with an image: its scene
    std::vector<int64_t> labelled;
    for (int i = 0; i < batch_size; ++i) {
        image_base.push_back(static_cast<int64_t>(pixels.size()));
        const size_t had = labels.size();
        seqs.push_back(scene_conversation(tok, tmpl, cfg, pre, first_seed + uint64_t(i), &pixels,
                                          &labels, so));
        if (labels.size() > had) labelled.push_back(image_base.back());
    }
    int64_t L = 0;
    for (const auto& s : seqs) L = std::max<int64_t>(L, s.keys.size());
    L = std::min<int64_t>(L, cfg.text.max_position_embeddings);
    Batch b;
    b.pixels = torch::stack(pixels);
    b.aux_images = labelled;
    if (!labels.empty()) {
        const int64_t M = static_cast<int64_t>(labels.size());
        const int64_t P = static_cast<int64_t>(labels[0].colour.size());
        // One field of every image's labels, concatenated: [M, P] or [M, P, k].
        auto cat = [&](const auto PatchLabels::*f, int64_t k) {
            std::vector<typename std::remove_reference_t<decltype(labels[0].*f)>::value_type> all;
            for (const auto& l : labels) all.insert(all.end(), (l.*f).begin(), (l.*f).end());
            return torch::tensor(all).view(k == 1 ? std::vector<int64_t>{M, P}
                                                  : std::vector<int64_t>{M, P, k});
        };
        b.aux_colour = cat(&PatchLabels::colour, 1);
        b.aux_shape = cat(&PatchLabels::shape, 1);
        b.aux_anchor = cat(&PatchLabels::anchor, 1);
        b.aux_pos_x = cat(&PatchLabels::pos_x, 1);
        b.aux_pos_y = cat(&PatchLabels::pos_y, 1);
        b.aux_box_bins = cat(&PatchLabels::box_bins, 4);
        b.aux_box = cat(&PatchLabels::box, 4);
        b.aux_box_mask = cat(&PatchLabels::box_mask, 1);
    }
    b.ids = torch::zeros({batch_size, L}, torch::kInt64);
    b.targets = torch::full({batch_size, L}, -100, torch::kInt64);
    b.image_mask = torch::zeros({batch_size, L}, torch::kBool);
    auto ids = b.ids.accessor<int64_t, 2>();
    auto tg = b.targets.accessor<int64_t, 2>();
    auto im = b.image_mask.accessor<bool, 2>();
    for (int i = 0; i < batch_size; ++i) {
        const auto& s = seqs[i];
        const int64_t n = std::min<int64_t>(s.keys.size(), L);
        for (int64_t p = 0; p < n; ++p) {
            if (s.keys[p] >= 0)
                ids[i][p] = s.keys[p];
            else
                im[i][p] = true;
            if (p + 1 < n && s.is_answer[p + 1] && s.keys[p + 1] >= 0) {
                tg[i][p] = s.keys[p + 1];
                ++b.answer_tokens;
            }
        }
        for (const auto& span : s.images)
            if (span.start + cfg.image_tokens() <= n)
                b.image_order.push_back(image_base[i] + span.image);
    }
    return b;
}

// Dense auxiliary loss on the patch features the projector reads: colour, shape, object
// centre, the owning object's box (binned and regressed) and the patch's own position, all
// through one linear layer so the features stay linearly readable by the projector. It
// is the stand-in for the pretrained CLIP a real LLaVA starts from; the head is not
// exported.
torch::Tensor aux_loss(const torch::Tensor& logits, const Batch& b, std::string* parts) {
    namespace F = torch::nn::functional;
    int64_t at = 0;
    auto take = [&](int64_t n) {
        auto t = logits.narrow(-1, at, n);
        at += n;
        return t;
    };
    auto ce = [](const torch::Tensor& l, const torch::Tensor& t) {
        return F::cross_entropy(l.reshape({-1, l.size(-1)}), t.reshape({-1}),
                                F::CrossEntropyFuncOptions().ignore_index(-100));
    };
    auto colour = take(synth::kColourCount + 1);
    auto shape = take(synth::kShapeCount + 1);
    auto anchor = take(synth::kShapeCount + 1);
    auto bins = take(4 * kBoxBins).reshape({logits.size(0), logits.size(1), 4, kBoxBins});
    auto box = torch::sigmoid(take(4));
    auto pos_x = take(kPosBins + 1);
    auto pos_y = take(kPosBins + 1);
    const auto l_colour = ce(colour, b.aux_colour), l_shape = ce(shape, b.aux_shape);
    const auto l_anchor = ce(anchor, b.aux_anchor);
    const auto l_pos = 0.5 * (ce(pos_x, b.aux_pos_x) + ce(pos_y, b.aux_pos_y));
    auto loss = l_colour + l_shape + l_anchor + l_pos;
    torch::Tensor l_bins = torch::zeros({}, logits.options()), l1 = l_bins;
    if (b.aux_box_mask.sum().item<double>() > 0) {
        l_bins = ce(bins, b.aux_box_bins);
        l1 = ((box - b.aux_box).abs().sum(-1) * b.aux_box_mask).sum() / b.aux_box_mask.sum();
        loss = loss + l_bins + 2.0 * l1;
    }
    if (parts) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "colour %.2f shape %.2f centre %.2f pos %.2f bins %.2f l1 %.3f",
                      l_colour.item<double>(), l_shape.item<double>(), l_anchor.item<double>(),
                      l_pos.item<double>(), l_bins.item<double>(), l1.item<double>());
        *parts = buf;
    }
    return loss;
}

// Curriculum: at first one large object per scene (a region question is then answered by
// whatever colour and shape fill the image, so the language model learns to read the image
// at all), then more and smaller objects until the final mix (1-6 objects, 10-35% of the
// short side) at curriculum_steps, so it must learn to read coordinates.
synth::SceneOptions curriculum_scene(const TrainOptions& o, int step) {
    synth::SceneOptions so;
    if (step >= o.curriculum_steps) return so;
    const double t = double(step) / std::max(1, o.curriculum_steps);
    so.max_objects = std::min(6, 1 + static_cast<int>(6.0 * t));
    so.min_size_fraction = 0.45 + (0.10 - 0.45) * t;
    so.max_size_fraction = 0.85 + (0.35 - 0.85) * t;
    return so;
}

double lr_at(const TrainOptions& o, int step) {
    if (step < o.warmup_steps) return o.lr * (step + 1) / o.warmup_steps;
    const double t = double(step - o.warmup_steps) / std::max(1, o.steps - o.warmup_steps);
    return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + std::cos(M_PI * std::min(1.0, t)));
}

void write_text(const fs::path& p, const std::string& text) {
    const fs::path tmp = p.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) throw Error("cannot write " + tmp.string());
    }
    fs::rename(tmp, p);
}

void export_model(Llava& net, const ModelConfig& cfg, const fs::path& tok_path, const fs::path& dir,
                  int step) {
    fs::create_directories(dir);
    save_state(*net, (dir / "model.safetensors").string(), DType::F32,
               {{"format", "pt"}, {"regionchat_step", std::to_string(step)}});
    write_text(dir / "config.json", model_config_to_json(cfg));
    if (fs::absolute(tok_path) != fs::absolute(dir / "tokenizer.model"))
        fs::copy_file(tok_path, dir / "tokenizer.model", fs::copy_options::overwrite_existing);
}

}  // namespace

void train_shapes_model(const TrainOptions& o) {
    const fs::path work(o.work_dir), out(o.out_dir);
    fs::create_directories(work);
    const fs::path tok_path = work / "tokenizer.model";
    const fs::path state_path = work / "state.json";
    auto tmpl = make_chat_template("vicuna_v1");

    int step = 0;
    ModelConfig cfg;
    if (fs::exists(state_path)) {
        const auto state = nlohmann::json::parse(std::ifstream(state_path));
        step = state.at("step").get<int>();
        if (state.at("seed").get<uint64_t>() != o.seed)
            throw Error(state_path.string() +
                        " was made with another --seed; use a new work folder");
        cfg = load_model_config(work.string());
    } else if (!o.init_dir.empty()) {
        fs::copy_file(fs::path(o.init_dir) / "tokenizer.model", tok_path,
                      fs::copy_options::overwrite_existing);
        cfg = load_model_config(o.init_dir);
    } else if (!o.tokenizer.empty()) {
        fs::copy_file(o.tokenizer, tok_path, fs::copy_options::overwrite_existing);
        cfg = shapes_tiny_config();
    } else {
        Tokenizer::train(tokenizer_corpus(*tmpl), tok_path.string(), o.vocab_size,
                         coordinate_symbols());
        cfg = shapes_tiny_config();
    }
    auto tok = Tokenizer::load(tok_path.string());
    cfg.text.vocab_size = tok->vocab_size() + 1;  // + the image token, as llava-hf checkpoints
    cfg.image_token_index = tok->vocab_size();

    const torch::Device device = resolve_device(o.device);
    torch::manual_seed(o.seed);
    Llava net(cfg);
    init_weights(*net);
    auto aux_head = torch::nn::Linear(cfg.vision.hidden_size, kAuxOutputs);
    {
        torch::NoGradGuard ng;
        aux_head->weight.normal_(0.0, 0.02);
        aux_head->bias.zero_();
    }
    net->to(device);
    aux_head->to(device);
    auto params = net->parameters();
    for (auto& p : aux_head->parameters()) params.push_back(p);
    torch::optim::AdamW opt(
        params, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.95}).weight_decay(o.weight_decay));
    if (step > 0) {
        auto archive = SafetensorsArchive::open((work / "model.safetensors").string());
        load_state(*net, *archive,
                   [](const std::string& n) { return std::vector<std::string>{n}; });
        auto aux_archive = SafetensorsArchive::open((work / "aux_head.safetensors").string());
        load_state(*aux_head, *aux_archive,
                   [](const std::string& n) { return std::vector<std::string>{n}; });
        torch::load(opt, (work / "optimizer.pt").string(), device);
    } else if (!o.init_dir.empty()) {
        auto archive =
            SafetensorsArchive::open((fs::path(o.init_dir) / "model.safetensors").string());
        load_state(*net, *archive,
                   [](const std::string& n) { return std::vector<std::string>{n}; });
    }
    net->train();

    PreprocessOptions pre;
    pre.size = cfg.vision.image_size;
    auto save = [&](int done) {
        save_state(*net, (work / "model.safetensors").string());
        save_state(*aux_head, (work / "aux_head.safetensors").string());
        write_text(work / "config.json", model_config_to_json(cfg));
        torch::save(opt, (work / "optimizer.pt").string());
        write_text(state_path, nlohmann::json{{"step", done}, {"seed", o.seed}}.dump());
        export_model(net, cfg, tok_path, out, done);
    };

    const auto t0 = Clock::now();
    const int first_step = step;
    double loss_ema = 0, aux_ema = 0;
    std::string aux_parts;
    // Batches are pure functions of their step (seeds, curriculum), so they are built ahead
    // on data_threads threads while the device trains; the result does not depend on the
    // thread count.
    auto build = [&, tok = tok.get()](int s) {
        const uint64_t first_seed = o.seed * 100'000'000ull + uint64_t(s) * o.batch_size;
        if (first_seed + o.batch_size >= kFirstHeldOutSeed)
            throw Error("training seeds would reach held-out seeds");
        return make_batch(*tok, *tmpl, cfg, pre, first_seed, o.batch_size,
                          curriculum_scene(o, s));
    };
    std::deque<std::future<Batch>> ahead;
    int next_built = step;
    auto refill = [&] {
        while (static_cast<int>(ahead.size()) < o.data_threads && next_built < o.steps)
            ahead.push_back(std::async(std::launch::async, build, next_built++));
    };
    for (; step < o.steps; ++step) {
        const double minutes = std::chrono::duration<double>(Clock::now() - t0).count() / 60.0;
        if (o.max_minutes > 0 && minutes >= o.max_minutes) break;
        refill();
        Batch b;
        if (ahead.empty()) {
            b = build(step);
        } else {
            b = ahead.front().get();
            ahead.pop_front();
            refill();
        }
        b.to(device);
        const double lr = lr_at(o, step);
        for (auto& g : opt.param_groups())
            static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);

        // As LlavaImpl::encode_images, keeping the patch features for the auxiliary heads.
        auto vis = net->vision_tower(b.pixels, cfg.vision_feature_layer);
        if (cfg.vision_feature_select_strategy == "default")
            vis = vis.narrow(1, 1, vis.size(1) - 1);
        auto feats = net->multi_modal_projector(vis);  // [N, T, D]
        torch::Tensor aux;
        if (!b.aux_images.empty())
            aux =
                aux_loss(aux_head(vis.index_select(
                             0, torch::tensor(b.aux_images, torch::kInt64).to(device))),
                         b, &aux_parts);
        auto emb = net->language_model->embed(b.ids);
        if (!b.image_order.empty()) {
            const auto order = torch::tensor(b.image_order, torch::kInt64).to(device);
            auto ordered = feats.index_select(0, order).reshape({-1, emb.size(-1)});
            emb = emb.masked_scatter(b.image_mask.unsqueeze(-1).expand_as(emb), ordered);
        }
        auto hidden = net->language_model->forward(emb, 0, nullptr);
        auto logits = net->language_model->logits(hidden);
        auto lm_loss = torch::nn::functional::cross_entropy(
            logits.reshape({-1, logits.size(-1)}), b.targets.reshape({-1}),
            torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
        auto loss = aux.defined() ? lm_loss + o.aux_weight * aux : lm_loss;
        opt.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
        opt.step();

        const double l = lm_loss.item<double>();
        const double la = aux.defined() ? aux.item<double>() : 0.0;
        aux_ema = step == first_step ? la : 0.95 * aux_ema + 0.05 * la;
        loss_ema = step == first_step ? l : 0.95 * loss_ema + 0.05 * l;
        if (o.on_progress) {
            const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
            TrainProgress p;
            p.step = step + 1;
            p.steps = o.steps;
            p.loss = loss_ema;
            p.aux_loss = aux_ema;
            p.detail = aux_parts;
            p.lr = lr;
            p.samples_per_s = (step + 1 - first_step) * o.batch_size / std::max(secs, 1e-9);
            p.eta_s = (o.steps - step - 1) * o.batch_size / std::max(p.samples_per_s, 1e-9);
            o.on_progress(p);
        }
        if ((step + 1) % o.save_every == 0) save(step + 1);
    }
    for (auto& f : ahead) f.wait();  // the stop may leave batches being built
    save(step);
}

}  // namespace rc::train
