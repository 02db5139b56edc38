// The networks and the loader, on tiny random checkpoints written by the test.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/model_impl.h"
#include "kernels/decode_ops.h"
#include "kernels/int8_gemv.h"
#include "model/attention.h"
#include "model/huge_pages.h"
#include "model/layers.h"
#include "model/colva/internvl.h"
#include "model/llama.h"
#include "model/llava/llava_family.h"
#include "model/tensor_io.h"
#include "regionchat/engine.h"
#include "regionchat/error.h"
#include "regionchat/safetensors.h"
#include "support/model_internals.h"
#include "support/read_tensor.h"
#include "support/tiny_model.h"
#include "support/tiny_pink.h"
#include "support/torch_zip_writer.h"

using namespace rc;
namespace fs = std::filesystem;

// A Phi-3 text config (transformers 5's rope_parameters with LongRoPE) as our TextConfig.
static TextConfig phi3_config(const nlohmann::json& j) {
    const auto& rp = j["rope_parameters"];
    TextConfig t;
    t.vocab_size = j["vocab_size"];
    t.hidden_size = j["hidden_size"];
    t.intermediate_size = j["intermediate_size"];
    t.num_hidden_layers = j["num_hidden_layers"];
    t.num_attention_heads = j["num_attention_heads"];
    t.num_key_value_heads = j["num_key_value_heads"];
    t.max_position_embeddings = j["max_position_embeddings"];
    t.rms_norm_eps = j["rms_norm_eps"];
    t.rope_theta = rp["rope_theta"];
    t.rope_short_factor = rp["short_factor"].get<std::vector<double>>();
    t.rope_long_factor = rp["long_factor"].get<std::vector<double>>();
    t.rope_original_max = rp["original_max_position_embeddings"];
    const double factor = double(t.max_position_embeddings) / t.rope_original_max;
    t.rope_attention_factor = std::sqrt(1 + std::log(factor) / std::log(double(t.rope_original_max)));
    return t;
}

class TestModel : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    std::string dir(const char* name) {
        return (fs::path(tmp_.path().toStdString()) / name).string();
    }

    // Runs the language model over `embeds` in chunks of the given sizes through a KV cache.
    torch::Tensor chunked_logits(Llava& net, const torch::Tensor& embeds,
                                 std::vector<int64_t> chunks) {
        auto cache = net->language_model->make_cache();
        std::vector<torch::Tensor> out;
        int64_t pos = 0;
        for (int64_t n : chunks) {
            auto h = net->language_model->forward(embeds.narrow(1, pos, n), pos, &cache);
            out.push_back(net->language_model->logits(h));
            pos += n;
            if (cache.length() != pos) return {};
        }
        return torch::cat(out, 1);
    }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void layersDrawWhatLibTorchDraws() {
        // Same seed, same numbers: a model built for training is unchanged by the swap.
        for (bool bias : {true, false}) {
            torch::manual_seed(7);
            torch::nn::Linear ref(torch::nn::LinearOptions(37, 11).bias(bias));
            torch::manual_seed(7);
            rc::Linear ours(37, 11, bias);
            QVERIFY(torch::equal(ours->weight, ref->weight));
            QCOMPARE(ours->bias.defined(), bias);
            if (bias) QVERIFY(torch::equal(ours->bias, ref->bias));
            QCOMPARE(ours->named_parameters().size(), ref->named_parameters().size());
            auto x = torch::randn({2, 5, 37});
            QVERIFY(torch::allclose(ours(x), ref(x)));
        }
        torch::manual_seed(9);
        torch::nn::Embedding ref_table(13, 6);
        torch::manual_seed(9);
        rc::Embedding table(13, 6);
        QVERIFY(torch::equal(table->weight, ref_table->weight));
        auto ids = torch::tensor({3, 0, 12}, torch::kLong);
        QVERIFY(torch::equal(table(ids), ref_table(ids)));
    }

    void skipInitDrawsNoRandomNumbers() {
        torch::manual_seed(3);
        {
            SkipInit outer;
            {
                SkipInit inner;
            }
            QVERIFY(init_skipped());  // the inner guard restores, not clears
            rc::Linear big(512, 256);
            rc::Embedding table(100, 32);
            QCOMPARE(big->weight.sizes(), (torch::IntArrayRef{256, 512}));
            QCOMPARE(table->weight.sizes(), (torch::IntArrayRef{100, 32}));
        }
        QVERIFY(!init_skipped());
        const auto after = torch::rand({8});
        torch::manual_seed(3);
        QVERIFY(torch::equal(after, torch::rand({8})));  // the generator was not advanced
        // Without a guard the same layers advance it.
        torch::manual_seed(3);
        rc::Linear drawn(4, 4);
        QVERIFY(!torch::equal(torch::rand({8}), after));
    }

    void registeredNamesAreHuggingFaceKeys() {
        Llava net(testing::tiny_config());
        std::set<std::string> names;
        for (const auto& p : net->named_parameters(true)) names.insert(p.key());
        for (const char* key :
             {"vision_tower.vision_model.embeddings.class_embedding",
              "vision_tower.vision_model.embeddings.patch_embedding.weight",
              "vision_tower.vision_model.embeddings.position_embedding.weight",
              "vision_tower.vision_model.pre_layrnorm.weight",
              "vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.bias",
              "vision_tower.vision_model.encoder.layers.0.mlp.fc2.weight",
              "vision_tower.vision_model.encoder.layers.0.layer_norm2.bias",
              "vision_tower.vision_model.post_layernorm.weight",
              "multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_2.bias",
              "language_model.model.embed_tokens.weight",
              "language_model.model.layers.1.self_attn.o_proj.weight",
              "language_model.model.layers.0.mlp.gate_proj.weight",
              "language_model.model.layers.0.input_layernorm.weight",
              "language_model.model.layers.0.post_attention_layernorm.weight",
              "language_model.model.norm.weight", "language_model.lm_head.weight"}) {
            QVERIFY2(names.count(key), key);
        }
        QVERIFY(!names.count("vision_tower.vision_model.embeddings.patch_embedding.bias"));
        QVERIFY(!names.count("language_model.model.layers.0.self_attn.q_proj.bias"));
        int64_t total = 0;
        for (const auto& p : net->parameters()) total += p.numel();
        QCOMPARE(total, count_parameters(testing::tiny_config()));
    }

    void attentionMatchesNaiveLoop() {
        torch::manual_seed(3);
        auto q = torch::randn({1, 2, 3, 4}), k = torch::randn({1, 2, 5, 4}),
             v = torch::randn({1, 2, 5, 4});
        auto out = attention(q, k, v, /*causal_offset=*/2);
        for (int h = 0; h < 2; ++h)
            for (int i = 0; i < 3; ++i) {
                const int visible = 2 + i + 1;  // keys 0..2+i
                std::vector<double> w(visible);
                double mx = -1e30, sum = 0;
                for (int j = 0; j < visible; ++j) {
                    w[j] = (q[0][h][i] * k[0][h][j]).sum().item<double>() / 2.0;  // sqrt(4)
                    mx = std::max(mx, w[j]);
                }
                for (auto& x : w) sum += (x = std::exp(x - mx));
                for (int d = 0; d < 4; ++d) {
                    double ref = 0;
                    for (int j = 0; j < visible; ++j)
                        ref += w[j] / sum * v[0][h][j][d].item<double>();
                    QVERIFY(std::abs(ref - out[0][h][i][d].item<double>()) < 1e-5);
                }
            }
    }

    // Grouped-query attention on the CPU reads each key/value head once for its group of query
    // heads; the same numbers as repeating the keys and values per head (transformers' way).
    void attentionGroupsWithoutRepeating() {
        torch::manual_seed(5);
        torch::NoGradGuard ng;
        const int64_t S = 9, d = 8, kv = 2, g = 3;
        auto k = torch::randn({1, kv, S, d}), v = torch::randn({1, kv, S, d});
        for (int64_t T : {1, 4, 9}) {
            auto q = torch::randn({1, kv * g, T, d});
            const int64_t offset = S - T;
            auto ref = attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), offset);
            auto grouped =
                attention(q.reshape({1, kv, g * T, d}), k, v, offset, g).view({1, kv * g, T, d});
            const double diff = (ref - grouped).abs().max().item<double>();
            QVERIFY2(diff < 1e-6, (std::to_string(T) + ": " + std::to_string(diff)).c_str());
        }
    }

    // Fused q/k/v and gate/up (done at load): one product each, the same logits, the separate
    // layers' names and values kept as views of the fused weights (no second copy), in fp32
    // and with int8 weights.
    void fusedProjectionsChangeNothing() {
        auto cfg = testing::tiny_config();
        for (bool int8 : {false, true}) {
            torch::manual_seed(8);
            Llava net(cfg);
            torch::NoGradGuard ng;
            for (auto& p : net->parameters()) p.normal_(0.0, 0.2);
            auto& lm = net->language_model;
            if (int8)
                for (const auto& m : lm->modules(false))
                    if (auto* lin = m->as<LinearImpl>()) lin->quantize_int8();
            auto ids = torch::randint(3, cfg.text.vocab_size, {1, 24}, torch::kInt64);
            auto embeds = lm->embed(ids);
            auto before = chunked_logits(net, embeds, {20, 1, 1, 2});
            const auto names = lm->named_parameters().keys();
            int64_t bytes = 0;
            for (const auto& t : lm->parameters()) bytes += t.numel() * t.element_size();
            for (const auto& layer : *lm->model->layers) {
                auto* l = layer->as<LlamaDecoderLayerImpl>();
                l->self_attn->fuse();
                l->mlp->fuse();
                QVERIFY(l->self_attn->qkv && l->mlp->gate_up);
                const auto& a = *l->self_attn;
                QCOMPARE(a.qkv->weight.size(0), a.q_proj->weight.size(0) + 2 * a.k_proj->weight.size(0));
                QCOMPARE(a.q_proj->weight.data_ptr(), a.qkv->weight.data_ptr());
                QCOMPARE(a.qkv->scales.defined(), int8);
                const auto& up = l->mlp->up_proj->weight;
                QCOMPARE(up.data_ptr(), l->mlp->gate_up->weight.narrow(0, up.size(0), up.size(0)).data_ptr());
            }
            QCOMPARE(lm->named_parameters().keys(), names);
            int64_t after_bytes = 0;
            for (const auto& t : lm->parameters()) after_bytes += t.numel() * t.element_size();
            QCOMPARE(after_bytes, bytes);
            auto after = chunked_logits(net, embeds, {20, 1, 1, 2});
            QVERIFY(before.defined() && after.defined());
            const double diff = (before - after).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, std::to_string(diff).c_str());
        }
        // Parts that cannot be one product are left alone.
        Linear a(8, 4, false), b(6, 4, false);
        QVERIFY(!fuse_linears({a.get(), b.get()}));
    }

    void kvCacheMatchesFullRecompute() {
        auto cfg = testing::tiny_config();
        torch::manual_seed(7);
        Llava net(cfg);
        torch::NoGradGuard ng;
        for (auto& p : net->parameters()) p.normal_(0.0, 0.2);
        net->eval();
        auto ids = torch::randint(3, cfg.text.vocab_size, {1, 40}, torch::kInt64);
        auto embeds = net->language_model->embed(ids);
        // Full recompute: no cache, causal mask from position 0.
        auto full = net->language_model->logits(net->language_model->forward(embeds, 0, nullptr));
        for (const auto& chunks :
             std::vector<std::vector<int64_t>>{{40}, {25, 1, 1, 13}, {1, 39}, {10, 10, 10, 10}}) {
            auto inc = chunked_logits(net, embeds, chunks);
            QVERIFY(inc.defined());
            const double diff = (inc - full).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, std::to_string(diff).c_str());
        }
        // A truncated cache continues exactly: keep 20, recompute the rest one by one.
        auto cache = net->language_model->make_cache();
        net->language_model->forward(embeds, 0, &cache);
        cache.truncate(20);
        for (int64_t p = 20; p < 40; ++p) {
            auto l = net->language_model->logits(
                net->language_model->forward(embeds.narrow(1, p, 1), p, &cache));
            QVERIFY((l[0][0] - full[0][p]).abs().max().item<double>() < 1e-5);
        }
    }

    // A turn's reservation is allocated once: prefill and decode steps write into storage that
    // does not move, a beam's copy keeps the room, and positions past it still fit.
    void kvCacheReservationHoldsTheTurn() {
        auto cfg = testing::tiny_config();
        torch::manual_seed(3);
        Llava net(cfg);
        torch::NoGradGuard ng;
        for (auto& p : net->parameters()) p.normal_(0.0, 0.2);
        auto& lm = net->language_model;
        auto embeds = lm->embed(torch::randint(3, cfg.text.vocab_size, {1, 40}, torch::kInt64));
        auto full = lm->logits(lm->forward(embeds, 0, nullptr));
        auto cache = lm->make_cache();
        cache.reserve(30);
        QCOMPARE(cache.capacity(), int64_t(30));
        lm->forward(embeds.narrow(1, 0, 20), 0, &cache);
        const int64_t heads = cfg.text.num_key_value_heads;
        const int64_t hd = cfg.text.hidden_size / cfg.text.num_attention_heads;
        const void* keys = cache.update(0, torch::zeros({1, heads, 0, hd}), torch::zeros({1, heads, 0, hd}), 20)
                               .first.data_ptr();
        for (int64_t p = 20; p < 30; ++p) {
            auto l = lm->logits(lm->forward(embeds.narrow(1, p, 1), p, &cache));
            QVERIFY((l[0][0] - full[0][p]).abs().max().item<double>() < 1e-5);
        }
        QCOMPARE(cache.capacity(), int64_t(30));
        QCOMPARE(cache.update(0, torch::zeros({1, heads, 0, hd}), torch::zeros({1, heads, 0, hd}), 30)
                     .first.data_ptr(),
                 keys);
        KvCache beam = cache.clone();
        QCOMPARE(beam.capacity(), int64_t(30));
        QCOMPARE(beam.length(), int64_t(30));
        // Past the reservation: the storage grows, the positions held are kept.
        for (KvCache* c : {&cache, &beam}) {
            auto l = lm->logits(lm->forward(embeds.narrow(1, 30, 10), 30, c));
            QVERIFY(c->capacity() >= 40);
            QVERIFY((l[0] - full[0].narrow(0, 30, 10)).abs().max().item<double>() < 1e-5);
        }
        // A reservation below what is held changes nothing.
        cache.reserve(10);
        QVERIFY(cache.capacity() >= 40);
    }

    // --dtype int8 quantises each LLaMA linear layer as soon as the loader has filled it (the
    // float weights are never all in memory at once), to the same int8 as quantising after.
    void int8QuantisesWhileLoading() {
        const TextConfig t = testing::tiny_config().text;
        const std::string d = dir("int8-while-loading");
        fs::create_directories(d);
        torch::manual_seed(5);
        LlamaForCausalLM src(t);
        save_state(*src, d + "/model.safetensors");
        auto archive = SafetensorsArchive::open(d);
        LlamaForCausalLM lm{nullptr};
        {
            SkipInit skip;
            Int8AfterLoad int8;
            lm = LlamaForCausalLM(t);
        }
        std::vector<LinearImpl*> linears;
        for (const auto& m : lm->modules(false))
            if (auto* l = m->as<LinearImpl>()) {
                QVERIFY(l->int8_after_load);
                linears.push_back(l);
            }
        QCOMPARE(int(linears.size()), 7 * t.num_hidden_layers + (t.tie_word_embeddings ? 0 : 1));
        std::vector<int> quantised;  // int8 layers at each tensor loaded
        load_state(*lm, *archive, [](const std::string& n) { return std::vector<std::string>{n}; },
                   [&](size_t, size_t, uint64_t) {
                       int n = 0;
                       for (const auto* l : linears) n += l->scales.defined();
                       quantised.push_back(n);
                       return true;
                   });
        QVERIFY(std::is_sorted(quantised.begin(), quantised.end()));
        const int mid = quantised[quantised.size() / 2];
        QVERIFY2(mid > 0 && mid < int(linears.size()), std::to_string(mid).c_str());
        for (const auto* l : linears) QCOMPARE(l->weight.scalar_type(), torch::kInt8);
        for (const auto& m : src->modules(false))
            if (auto* l = m->as<LinearImpl>()) l->quantize_int8();
        const auto want = src->named_parameters(), got = lm->named_parameters();
        QCOMPARE(got.size(), want.size());
        for (const auto& p : want) QVERIFY2(torch::equal(got[p.key()], p.value()), p.key().c_str());
        const auto want_s = src->named_buffers(), got_s = lm->named_buffers();
        QCOMPARE(got_s.size(), want_s.size());
        for (const auto& b : want_s) QVERIFY2(torch::equal(got_s[b.key()], b.value()), b.key().c_str());
        // Outside the scope nothing is marked.
        LlamaForCausalLM plain(t);
        for (const auto& m : plain->modules(false))
            if (auto* l = m->as<LinearImpl>()) QVERIFY(!l->int8_after_load);
    }

    // Whether the mapping holding the 2 MiB-aligned interior of t's memory is advised into
    // huge pages (VmFlags "hg" in /proc/self/smaps).
    static bool advised_huge(const torch::Tensor& t) {
        const auto start = reinterpret_cast<uintptr_t>(t.storage().data());
        const uintptr_t at = (start + (uintptr_t(2) << 20) - 1) & ~((uintptr_t(2) << 20) - 1);
        std::ifstream smaps("/proc/self/smaps");
        std::string line;
        bool inside = false;
        while (std::getline(smaps, line)) {
            unsigned long long a = 0, b = 0;
            if (std::sscanf(line.c_str(), "%llx-%llx ", &a, &b) == 2 && line.find('-') < 17) {
                inside = a <= at && at < b;
            } else if (inside && line.rfind("VmFlags:", 0) == 0) {
                return (line + " ").find(" hg ") != std::string::npos;
            }
        }
        return false;
    }

    void weightsAreAdvisedIntoHugePages() {
        std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
        std::string mode;
        std::getline(thp, mode);
        if (mode.empty() || mode.find("[never]") != std::string::npos)
            QSKIP("this kernel has no transparent huge pages");
        // A fresh tensor, a loaded weight and a fused one: each advised before it is written.
        const auto e = empty_huge({1024, 4096}, torch::kFloat32);
        QVERIFY(advised_huge(e));
        const std::string d = dir("huge-pages");
        fs::create_directories(d);
        torch::manual_seed(3);
        torch::nn::ModuleHolder<LinearImpl> a(1024, 4096, false), b(1024, 4096, false);
        torch::nn::Module src;
        src.register_module("a", a.ptr());
        src.register_module("b", b.ptr());
        save_state(src, d + "/model.safetensors");
        auto archive = SafetensorsArchive::open(d);
        torch::nn::Module dst;
        {
            SkipInit skip;
            dst.register_module("a", std::make_shared<LinearImpl>(1024, 4096, false));
            dst.register_module("b", std::make_shared<LinearImpl>(1024, 4096, false));
        }
        load_state(dst, *archive, [](const std::string& n) { return std::vector<std::string>{n}; });
        auto* la = dst.named_children()["a"]->as<LinearImpl>();
        auto* lb = dst.named_children()["b"]->as<LinearImpl>();
        QVERIFY(advised_huge(la->weight));
        QVERIFY(torch::equal(la->weight, a->weight));
        auto fused = fuse_linears({la, lb});
        QVERIFY(fused);
        QVERIFY(advised_huge(fused->weight));
        QVERIFY(torch::equal(fused->weight, torch::cat({a->weight, b->weight}, 0)));
        QVERIFY(torch::equal(lb->weight, b->weight));
        la->quantize_int8();  // 4 MiB of int8
        QVERIFY(advised_huge(la->weight));
        // Small tensors are left alone (their pages are shared with other allocations).
        const auto small = empty_huge({16}, torch::kFloat32);
        QCOMPARE(small.numel(), int64_t(16));
    }

    // The fused CPU kernels of a decoder layer against the LibTorch formulas they replace, on
    // every instruction set this CPU has, with lengths that leave vector tails.
    void fusedKernelsMatchTheirTorchFormulas() {
        torch::NoGradGuard ng;
        torch::manual_seed(11);
        const auto best = kernels::best_isa();
        for (int isa = int(best); isa >= 0; --isa) {
            const auto outer = kernels::limit_isa(kernels::Isa(isa));
            // A few rows (one thread) and a prefill's worth (rows split over threads).
            for (const auto& [rows, dim] : {std::array<int64_t, 2>{3, 100}, std::array<int64_t, 2>{40, 2050}}) {
                const auto x = torch::randn({rows, dim}), w = torch::rand({dim}) + 0.5;
                auto y = torch::empty_like(x);
                kernels::rms_norm(x.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), rows, dim, 1e-6f);
                const auto want = w * (x * torch::rsqrt(x.pow(2).mean(-1, true) + 1e-6));
                QVERIFY((y - want).abs().max().item<double>() < 1e-5);
                const auto gate_up = torch::randn({rows, 2 * dim});
                auto sw = torch::empty({rows, dim});
                kernels::silu_mul(gate_up.data_ptr<float>(), sw.data_ptr<float>(), rows, dim);
                const auto want_sw = torch::silu(gate_up.narrow(1, 0, dim)) * gate_up.narrow(1, dim, dim);
                QVERIFY((sw - want_sw).abs().max().item<double>() < 1e-5);
            }

            // Gates from -100 to 100 too (the vector exp clamps its argument).
            auto gu = torch::randn({3, 2 * 37});
            gu[2].narrow(0, 0, 37).copy_(torch::linspace(-100, 100, 37));
            auto h = torch::empty({3, 37});
            kernels::silu_mul(gu.data_ptr<float>(), h.data_ptr<float>(), 3, 37);
            const auto want_h = torch::silu(gu.narrow(1, 0, 37)) * gu.narrow(1, 37, 37);
            QVERIFY(((h - want_h).abs() <= 1e-5 * (1 + want_h.abs())).all().item<bool>());

            const int64_t hd = 20;
            auto q = torch::randn({3, hd});
            const auto freqs = torch::rand({hd / 2}) * 7;
            const auto emb = torch::cat({freqs, freqs});
            const auto c = emb.cos(), sn = emb.sin();
            const auto rot = torch::cat({-q.narrow(1, hd / 2, hd / 2), q.narrow(1, 0, hd / 2)}, 1);
            const auto want_q = q * c + rot * sn;
            kernels::rope(q.data_ptr<float>(), 3, hd, c.data_ptr<float>(), sn.data_ptr<float>());
            QVERIFY((q - want_q).abs().max().item<double>() < 1e-6);

            // Grouped attention, small (one thread) and large (kv heads split over threads).
            for (const auto& [heads, kv, dim, S] : {std::array<int64_t, 4>{8, 2, 20, 37},
                                                    std::array<int64_t, 4>{8, 4, 64, 300}}) {
                const int64_t cap = S + 13;
                const auto qa = torch::randn({heads, dim});
                const auto k = torch::randn({kv, cap, dim}), v = torch::randn({kv, cap, dim});
                auto out = torch::empty({heads, dim});
                const float scale = float(1.0 / std::sqrt(double(dim)));
                kernels::attend_one(qa.data_ptr<float>(), heads, kv, dim, k.data_ptr<float>(),
                                    v.data_ptr<float>(), cap * dim, S, scale, out.data_ptr<float>());
                const int64_t g = heads / kv;
                const auto ks = k.narrow(1, 0, S).repeat_interleave(g, 0);
                const auto vs = v.narrow(1, 0, S).repeat_interleave(g, 0);
                const auto p = torch::softmax(torch::matmul(qa.unsqueeze(1), ks.transpose(1, 2)) * scale, -1);
                const auto want_o = torch::matmul(p, vs).squeeze(1);
                QVERIFY2((out - want_o).abs().max().item<double>() < 1e-5,
                         (std::string(kernels::isa_name(kernels::Isa(isa))) + " S=" + std::to_string(S)).c_str());

                // Five rows continuing the cache at S - 5 (row t sees S - 4 + t positions):
                // each row bit for bit what attend_one gives for it, threads or not.
                const int64_t rows = 5, first = S - rows + 1;
                const auto qr = torch::randn({rows, heads, dim});
                auto outr = torch::full({rows, heads, dim}, 7.f);
                kernels::attend_rows(qr.data_ptr<float>(), heads * dim, rows, heads, kv, dim,
                                     k.data_ptr<float>(), v.data_ptr<float>(), cap * dim, first,
                                     scale, outr.data_ptr<float>(), heads * dim);
                for (int64_t t = 0; t < rows; ++t) {
                    auto one = torch::empty({heads, dim});
                    kernels::attend_one(qr[t].data_ptr<float>(), heads, kv, dim, k.data_ptr<float>(),
                                        v.data_ptr<float>(), cap * dim, first + t, scale,
                                        one.data_ptr<float>(), 1);
                    QVERIFY2(torch::equal(outr[t], one), ("row " + std::to_string(t)).c_str());
                }
            }
            kernels::limit_isa(outer);
        }
    }

    // A LLaMA forward in fp32 without autograd takes the fused kernels (norms, SwiGLU, a
    // one-token step's attention); its logits equal LibTorch's operations' to 1e-5, over a
    // prefill and a few decode steps with projections fused as a loaded model has them.
    void fusedDecodeStepMatchesLibTorch() {
        auto cfg = testing::tiny_config();
        torch::manual_seed(4);
        LlamaForCausalLM lm(cfg.text);
        torch::NoGradGuard ng;
        for (auto& p : lm->parameters()) p.normal_(0.0, 0.2);
        for (const auto& layer : *lm->model->layers) {
            auto* l = layer->as<LlamaDecoderLayerImpl>();
            l->self_attn->fuse();
            l->mlp->fuse();
            QVERIFY(l->self_attn->qkv && l->mlp->gate_up);
        }
        const auto embeds = lm->embed(torch::randint(3, cfg.text.vocab_size, {1, 23}, torch::kInt64));
        // A 12-token prompt, six decode steps and a 5-token second turn. With the cache
        // reserved first (as `ask` does) the prompt takes the fused rows too; without, its
        // first forward goes through LibTorch's products and the rest through the kernels.
        auto run = [&](bool reserve) {
            auto cache = lm->make_cache();
            if (reserve) cache.reserve(32);
            std::vector<torch::Tensor> out{lm->logits(lm->forward(embeds.narrow(1, 0, 12), 0, &cache))};
            for (int64_t p = 12; p < 18; ++p)
                out.push_back(lm->logits(lm->forward(embeds.narrow(1, p, 1), p, &cache)));
            out.push_back(lm->logits(lm->forward(embeds.narrow(1, 18, 5), 18, &cache)));
            return torch::cat(out, 1);
        };
        torch::Tensor plain;
        {
            TorchOpsOnly only;
            plain = run(false);
        }
        QVERIFY(plain.abs().max().item<double>() > 0.1);  // not a vacuous comparison
        for (bool reserve : {false, true}) {
            const auto fused = run(reserve);
            QCOMPARE(fused.size(1), int64_t(23));
            const double diff = (fused - plain).abs().max().item<double>();
            QVERIFY2(diff < 1e-5, (std::to_string(diff) + (reserve ? " reserved" : "")).c_str());
        }
        // A row's values do not depend on how the tokens were cut: the second turn's five
        // tokens in one forward give the logits five single steps give (one attention call
        // per row either way), to the products' rounding.
        auto cache = lm->make_cache();
        cache.reserve(32);
        lm->forward(embeds.narrow(1, 0, 18), 0, &cache);
        std::vector<torch::Tensor> steps;
        for (int64_t p = 18; p < 23; ++p)
            steps.push_back(lm->logits(lm->forward(embeds.narrow(1, p, 1), p, &cache)));
        const double chunk = (torch::cat(steps, 1) - run(true).narrow(1, 18, 5)).abs().max().item<double>();
        QVERIFY2(chunk < 1e-5, std::to_string(chunk).c_str());
    }

    // A bf16 model on the CPU keeps its activations and KV cache in fp32 (the products still
    // read bf16 weights): its logits are closer to the fp32 model's (same weights, rounded to
    // bf16) than those of LibTorch's bf16 operations are.
    void bf16ModelComputesInFp32OnTheCpu() {
        auto cfg = testing::tiny_config();
        torch::manual_seed(6);
        LlamaForCausalLM ref(cfg.text), lm(cfg.text);
        torch::NoGradGuard ng;
        for (auto& p : ref->parameters()) p.normal_(0.0, 0.2).copy_(p.to(torch::kBFloat16));
        const auto refp = ref->named_parameters();
        for (auto& p : lm->named_parameters()) p.value().copy_(refp[p.key()]);
        lm->to(torch::kBFloat16);
        for (auto* m : {&ref, &lm})
            for (const auto& layer : *(*m)->model->layers) {
                layer->as<LlamaDecoderLayerImpl>()->self_attn->fuse();
                layer->as<LlamaDecoderLayerImpl>()->mlp->fuse();
            }
        const auto ids = torch::randint(3, cfg.text.vocab_size, {1, 18}, torch::kInt64);
        auto run = [&](LlamaForCausalLM& m, torch::ScalarType cache_dtype) {
            auto cache = m->make_cache();
            if (cache.dtype() != cache_dtype) throw Error("cache dtype");
            const auto e = m->embed(ids);
            std::vector<torch::Tensor> out{m->logits(m->forward(e.narrow(1, 0, 12), 0, &cache)).to(torch::kFloat32)};
            for (int64_t p = 12; p < 18; ++p)
                out.push_back(m->logits(m->forward(e.narrow(1, p, 1), p, &cache)).to(torch::kFloat32));
            return torch::cat(out, 1);
        };
        const auto want = run(ref, torch::kFloat32);
        const auto mixed = run(lm, torch::kFloat32);
        torch::Tensor bf16;
        {
            TorchOpsOnly only;
            bf16 = run(lm, torch::kBFloat16);
        }
        const double e_mixed = (mixed - want).abs().max().item<double>();
        const double e_bf16 = (bf16 - want).abs().max().item<double>();
        QVERIFY2(e_mixed < e_bf16, qPrintable(QString("%1 vs %2").arg(e_mixed).arg(e_bf16)));
        QVERIFY2(e_mixed < 0.05 * want.abs().max().item<double>(), qPrintable(QString::number(e_mixed)));
        // A forward without a cache and with autograd off computes in fp32 too.
        QCOMPARE(lm->forward(lm->embed(ids), 0, nullptr).scalar_type(), torch::kFloat32);
    }

    // A bf16 linear layer on every instruction set this CPU has, for a decode step's rows and a
    // prefill's: the products of x rounded to bf16 with the bf16 weight, summed in fp32 (the
    // kernel's rows, its tiles, or BLAS on widened blocks where the tiles are missing), never
    // LibTorch's bf16 product, whose output is rounded to bf16.
    void bf16LinearSumsInFp32OnEveryPath() {
        torch::NoGradGuard ng;
        torch::manual_seed(21);
        Linear lin(300, 70);
        lin->to(torch::kBFloat16);
        const auto w = lin->weight.to(torch::kFloat64), b = lin->bias.to(torch::kFloat64);
        for (int isa = int(kernels::best_isa()); isa >= 0; --isa) {
            const auto before = kernels::limit_isa(kernels::Isa(isa));
            for (const int64_t rows : {int64_t(5), int64_t(40)}) {
                const auto x = torch::randn({rows, 300});
                const auto want = torch::addmm(b, x.to(torch::kBFloat16).to(torch::kFloat64), w.t());
                const auto y = lin(x);
                QCOMPARE(y.scalar_type(), torch::kFloat32);
                const double err = (y.to(torch::kFloat64) - want).abs().max().item<double>();
                QVERIFY2(err < 1e-5 * (1 + want.abs().max().item<double>()),
                         (std::to_string(err) + " on " + kernels::isa_name(kernels::Isa(isa)) +
                          ", rows " + std::to_string(rows)).c_str());
            }
            kernels::limit_isa(before);
        }
    }

    void imageFeaturesHaveTheConfiguredShape() {
        auto cfg = testing::tiny_config();
        Llava net(cfg);
        torch::NoGradGuard ng;
        auto f = net->encode_images(torch::randn({2, 3, 32, 32}));
        QCOMPARE(f.size(0), int64_t(2));
        QCOMPARE(f.size(1), int64_t(cfg.image_tokens()));
        QCOMPARE(f.size(2), int64_t(cfg.text.hidden_size));
        cfg.vision_feature_select_strategy = "full";
        QCOMPARE(cfg.image_tokens(), 17);
    }

    void loadsWhatWasSaved() {
        const auto cfg = testing::tiny_config();
        const std::string d = dir("roundtrip");
        testing::write_tiny_model(d, cfg);
        auto model = Model::load(testing::load_params(d, "cpu"));
        QCOMPARE(model->info().parameters, count_parameters(cfg));
        QCOMPARE(to_string(model->info().dtype), std::string("fp32"));
        QCOMPARE(to_string(model->info().device), std::string("cpu"));
        // Every stored tensor equals the loaded parameter.
        auto archive = SafetensorsArchive::open(d);
        for (const auto& p : testing::llava_net(*model)->named_parameters(true)) {
            const TensorView* v = archive->find(p.key());
            QVERIFY2(v, p.key().c_str());
            auto t = torch::empty(p.value().sizes());
            copy_view_into(*v, t);
            QVERIFY(torch::equal(t, p.value()));
        }
    }

    // The original LLaVA layout ships torch.save shards: the same tensors as a .bin (every
    // 2-D weight stored transposed and read back through its strides) load to the same model.
    void torchBinTwinLoadsTheSameModel() {
        const auto cfg = testing::tiny_config();
        const std::string st = dir("twin_st"), bin = dir("twin_bin");
        testing::write_tiny_model(st, cfg);
        fs::create_directories(bin);
        fs::copy_file(fs::path(st) / "config.json", fs::path(bin) / "config.json");
        fs::copy_file(fs::path(st) / "tokenizer.model", fs::path(bin) / "tokenizer.model");
        auto archive = SafetensorsArchive::open(st);
        std::vector<testing::ZipTensor> tensors;
        std::vector<testing::ZipStorage> storages;
        int transposed = 0;
        for (const std::string& name : archive->names()) {
            const TensorView* v = archive->find(name);
            QCOMPARE(v->dtype, DType::F32);
            testing::ZipStorage s;
            s.key = std::to_string(storages.size());
            s.numel = v->numel();
            s.bytes.assign(v->data, v->data + v->nbytes);
            testing::ZipTensor t{name, "FloatStorage", s.key, v->shape, {}, 0};
            if (v->shape.size() == 2 && v->shape[0] > 1 && v->shape[1] > 1) {
                const int64_t rows = v->shape[0], cols = v->shape[1];
                const float* src = reinterpret_cast<const float*>(v->data);
                std::vector<float> tr(static_cast<size_t>(rows * cols));
                for (int64_t r = 0; r < rows; ++r)
                    for (int64_t c = 0; c < cols; ++c) tr[c * rows + r] = src[r * cols + c];
                std::memcpy(s.bytes.data(), tr.data(), s.bytes.size());
                t.strides = {1, rows};
                ++transposed;
            } else {
                t.strides = testing::contiguous_strides(v->shape);
            }
            storages.push_back(std::move(s));
            tensors.push_back(std::move(t));
        }
        QVERIFY(transposed > 10);
        testing::write_torch_zip((fs::path(bin) / "pytorch_model.bin").string(),
                                 testing::state_dict_pickle(tensors, storages), storages);
        auto a = Model::load(testing::load_params(st, "cpu"));
        auto b = Model::load(testing::load_params(bin, "cpu"));
        auto pa = testing::llava_net(*a)->named_parameters(true), pb = testing::llava_net(*b)->named_parameters(true);
        QCOMPARE(pa.size(), pb.size());
        for (const auto& p : pa) QVERIFY2(torch::equal(p.value(), pb[p.key()]), p.key().c_str());
        const cv::Mat image = testing::test_image(40, 30, 5);
        Session sa(a), sb(b);
        QCOMPARE(sa.answer_nll("What is here?", {image}, "a red circle"),
                 sb.answer_nll("What is here?", {image}, "a red circle"));
    }

    // liuhaotian/llava-v1.5 and DualFocus: LLaMA keys at the top of config.json, mm_* keys,
    // pytorch_model.bin with model.* / model.mm_projector.* keys, and the CLIP tower in its
    // own Hugging Face folder named by mm_vision_tower. Same tensors, same model.
    void originalLlavaLayoutLoadsTheSameModel() {
        auto cfg = testing::tiny_config();
        cfg.image_filter = "bicubic";  // what an original-layout config without ours implies
        const std::string hf = dir("orig_hf"), orig = dir("orig/llava-tiny"),
                          clip = dir("orig/clip-tiny");
        testing::write_tiny_model(hf, cfg);
        fs::create_directories(orig);
        fs::create_directories(clip);
        fs::copy_file(fs::path(hf) / "tokenizer.model", fs::path(orig) / "tokenizer.model");
        const auto& t = cfg.text;
        nlohmann::json original = testing::llama_config_json(t);
        original.update(nlohmann::json{{"architectures", {"LlavaLlamaForCausalLM"}},
                                       {"model_type", "llava"},
                                       {"mm_hidden_size", cfg.vision.hidden_size},
                                       {"mm_projector_type", "mlp2x_gelu"},
                                       {"mm_vision_select_feature", "patch"},
                                       {"mm_vision_select_layer", -2},
                                       {"mm_vision_tower", "openai/clip-tiny"},
                                       {"mm_use_im_start_end", false},
                                       {"mm_use_im_patch_token", false},
                                       {"image_aspect_ratio", "pad"},
                                       {"tune_mm_mlp_adapter", false},
                                       {"tokenizer_model_max_length", 2048}});
        std::ofstream(fs::path(orig) / "config.json") << original.dump(2);
        const auto& v = cfg.vision;
        std::ofstream(fs::path(clip) / "config.json") << testing::clip_config_json(v).dump(2);
        auto archive = SafetensorsArchive::open(hf);
        std::vector<testing::ZipTensor> tensors;
        std::vector<testing::ZipStorage> storages;
        std::vector<TensorToWrite> clip_tensors;
        const std::vector<float> text_tensor(16, 0.5f);
        clip_tensors.push_back(
            {"text_model.final_layer_norm.weight", DType::F32, {16}, text_tensor.data(), 64});
        for (const std::string& name : archive->names()) {
            const TensorView* tv = archive->find(name);
            auto renamed = [&](const std::string& from, const std::string& to) {
                return name.rfind(from, 0) == 0 ? to + name.substr(from.size()) : std::string();
            };
            if (name.rfind("vision_tower.", 0) == 0) {
                clip_tensors.push_back(
                    {name.substr(13), tv->dtype, tv->shape, tv->data, tv->nbytes});
                continue;
            }
            std::string key = renamed("language_model.model.", "model.");
            if (key.empty()) key = renamed("language_model.lm_head.", "lm_head.");
            if (key.empty())
                key = renamed("multi_modal_projector.linear_1.", "model.mm_projector.0.");
            if (key.empty())
                key = renamed("multi_modal_projector.linear_2.", "model.mm_projector.2.");
            QVERIFY2(!key.empty(), name.c_str());
            testing::ZipStorage st;
            st.key = std::to_string(storages.size());
            st.numel = tv->numel();
            st.bytes.assign(tv->data, tv->data + tv->nbytes);
            testing::ZipTensor zt{
                key, "FloatStorage", st.key, tv->shape, testing::contiguous_strides(tv->shape), 0};
            storages.push_back(std::move(st));
            tensors.push_back(std::move(zt));
        }
        write_safetensors((fs::path(clip) / "model.safetensors").string(), clip_tensors);
        testing::write_torch_zip((fs::path(orig) / "pytorch_model.bin").string(),
                                 testing::state_dict_pickle(tensors, storages), storages);

        auto a = Model::load(testing::load_params(hf, "cpu"));
        auto b = Model::load(testing::load_params(orig, "cpu"));
        QCOMPARE(b->info().layout, std::string("llava-original"));
        QCOMPARE(b->config().vision.image_size, v.image_size);
        QCOMPARE(b->config().image_aspect, std::string("pad"));
        std::string warnings;
        for (const auto& w : b->info().warnings) warnings += w + "; ";
        QVERIFY2(b->info().warnings.empty(), warnings.c_str());
        auto pa = testing::llava_net(*a)->named_parameters(true), pb = testing::llava_net(*b)->named_parameters(true);
        for (const auto& p : pa) QVERIFY2(torch::equal(p.value(), pb[p.key()]), p.key().c_str());
        const cv::Mat image = testing::test_image(40, 30, 6);
        Session sa(a), sb(b);
        QCOMPARE(sa.answer_nll("What is here?", {image}, "a star"),
                 sb.answer_nll("What is here?", {image}, "a star"));

        // Without its CLIP folder the message says what is missing and where it looked.
        fs::rename(clip, dir("orig/moved-away"));
        try {
            Model::load(testing::load_params(orig, "cpu"));
            QFAIL("loaded without the vision tower");
        } catch (const Error& e) {
            const QString m = e.what();
            QVERIFY2(m.contains("openai/clip-tiny") && m.contains("looked in"), e.what());
        }
    }

    void newStyleKeysAndHalfPrecisionLoad() {
        const auto cfg = testing::tiny_config();
        testing::TinyModelOptions o;
        o.new_style_keys = true;
        o.dtype = DType::F16;
        const std::string d = dir("newkeys");
        testing::write_tiny_model(d, cfg, o);
        auto archive = SafetensorsArchive::open(d);
        QVERIFY(archive->find("model.language_model.layers.0.mlp.up_proj.weight"));
        QVERIFY(archive->find("lm_head.weight"));
        QVERIFY(!archive->find("language_model.lm_head.weight"));
        auto model = Model::load(testing::load_params(d, "cpu"));
        QCOMPARE(model->info().parameters, count_parameters(cfg));
    }

    void tiedEmbeddingsLoad() {
        auto cfg = testing::tiny_config();
        cfg.text.tie_word_embeddings = true;
        const std::string d = dir("tied");
        testing::write_tiny_model(d, cfg);
        auto model = Model::load(testing::load_params(d, "cpu"));
        QCOMPARE(model->info().parameters, count_parameters(cfg));
    }

    void missingTensorIsNamed() {
        const auto cfg = testing::tiny_config();
        const std::string d = dir("missing");
        testing::write_tiny_model(d, cfg);
        // Rewrite the checkpoint without one tensor (and one extra to keep the count high).
        Llava net(cfg);
        std::vector<torch::Tensor> keep;
        std::vector<TensorToWrite> out;
        for (const auto& p : net->named_parameters(true)) {
            std::string name = p.key();
            if (name == "language_model.model.layers.1.mlp.down_proj.weight")
                name = "unexpected.weight";
            auto t = p.value().detach().contiguous();
            keep.push_back(t);
            out.push_back({name,
                           DType::F32,
                           {t.sizes().begin(), t.sizes().end()},
                           t.data_ptr(),
                           static_cast<size_t>(t.numel()) * 4});
        }
        write_safetensors(d + "/model.safetensors", out);
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("a checkpoint without a tensor loaded");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find(
                         "language_model.model.layers.1.mlp.down_proj.weight") != std::string::npos,
                     e.what());
        }
    }

    void misShapedTensorIsNamed() {
        auto cfg = testing::tiny_config();
        const std::string d = dir("misshaped");
        testing::write_tiny_model(d, cfg);
        // The config now asks for a wider MLP than the checkpoint holds.
        cfg.text.intermediate_size = 96;
        std::ofstream(d + "/config.json") << model_config_to_json(cfg);
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("a mis-shaped checkpoint loaded");
        } catch (const Error& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("mlp.") != std::string::npos && msg.find("[") != std::string::npos,
                     e.what());
        }
    }

    void configLargerThanCheckpointIsRefusedBeforeBuilding() {
        auto cfg = testing::tiny_config();
        const std::string d = dir("hostile");
        testing::write_tiny_model(d, cfg);
        cfg.text.num_hidden_layers = 1000;  // would be gigabytes if built blindly
        cfg.text.hidden_size = 4096;
        cfg.text.num_attention_heads = 32;
        cfg.text.num_key_value_heads = 32;
        cfg.text.intermediate_size = 11008;
        std::ofstream(d + "/config.json") << model_config_to_json(cfg);
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("a hostile config loaded");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("parameters") != std::string::npos, e.what());
        }
    }

    void missingFilesGiveClearMessages() {
        const std::string d = dir("incomplete");
        testing::write_tiny_model(d, testing::tiny_config());
        fs::remove(d + "/tokenizer.model");
        try {
            Model::load(testing::load_params(d, "cpu"));
            QFAIL("loaded without a tokenizer");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("tokenizer.model") != std::string::npos, e.what());
        }
        try {
            Model::load(testing::load_params(dir("does-not-exist"), "cpu"));
            QFAIL("loaded a missing folder");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("does not exist") != std::string::npos, e.what());
        }
        // Truncated weights: the reader names the file.
        const std::string t = dir("truncated");
        testing::write_tiny_model(t, testing::tiny_config());
        fs::resize_file(t + "/model.safetensors", fs::file_size(t + "/model.safetensors") / 2);
        try {
            Model::load(testing::load_params(t, "cpu"));
            QFAIL("loaded a truncated checkpoint");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("model.safetensors") != std::string::npos,
                     e.what());
        }
    }

    void loadProgressReportsAndCancels() {
        const std::string d = dir("progress");
        testing::write_tiny_model(d, testing::tiny_config());
        size_t calls = 0, last_total = 0;
        uint64_t last_bytes = 0;
        LoadParams p = testing::load_params(d, "cpu");
        p.progress = [&](const LoadProgress& lp) {
            ++calls;
            last_total = lp.tensors_total;
            last_bytes = lp.bytes_done;
            return true;
        };
        auto model = Model::load(p);
        QVERIFY(calls > 10);
        QCOMPARE(calls, last_total);
        QCOMPARE(last_bytes, model->info().weight_bytes);
        p.progress = [&](const LoadProgress& lp) { return lp.tensors_done < 5; };
        try {
            Model::load(p);
            QFAIL("cancel was ignored");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("cancelled") != std::string::npos, e.what());
        }
    }

    // The model manager's plan: read from config.json and the file headers, no loading.
    void planWithoutLoading() {
        const auto cfg = testing::tiny_config();
        const std::string d = dir("plan");
        testing::write_tiny_model(d, cfg);
        LoadParams p = testing::load_params(d, "cpu");
        ModelPlan plan = plan_model(p);
        QCOMPARE(plan.layout, std::string("hf-llava"));
        QCOMPARE(to_string(plan.device), std::string("cpu"));
        QCOMPARE(to_string(plan.dtype), std::string("fp32"));
        QCOMPARE(plan.parameters, count_parameters(cfg));
        QCOMPARE(plan.weight_bytes, uint64_t(plan.parameters) * 4);
        QVERIFY(plan.bytes_needed > plan.weight_bytes);
        QVERIFY(plan.bytes_free > plan.bytes_needed);  // MemAvailable of this machine
        QVERIFY(plan.fits && plan.message.empty());
        p.dtype = Precision::BF16;
        QCOMPARE(plan_model(p).weight_bytes, uint64_t(plan.parameters) * 2);
        plan.set_free(plan.bytes_needed - 1);
        QVERIFY(!plan.fits);
        QVERIFY2(plan.message.find("needs") != std::string::npos, plan.message.c_str());
        plan.set_free(0);  // unknown: not refused
        QVERIFY(plan.fits);
        fs::remove(fs::path(d) / "model.safetensors");
        QVERIFY_THROWS_EXCEPTION(Error, plan_model(p));
    }

    // bf16 builds the network in bf16 from the start (peak host memory) and leaves the
    // process's default dtype as it was; fp16 on the CPU is refused with the reason.
    void sixteenBitLoadsOnTheCpu() {
        const auto cfg = testing::tiny_config();
        const std::string d = dir("bf16");
        testing::write_tiny_model(d, cfg);
        LoadParams p = testing::load_params(d, "cpu");
        p.dtype = Precision::BF16;
        auto model = Model::load(p);
        QCOMPARE(to_string(model->info().dtype), std::string("bf16"));
        for (const auto& t : testing::llava_net(*model)->parameters())
            QCOMPARE(t.scalar_type(), torch::kBFloat16);
        QVERIFY(torch::get_default_dtype() == caffe2::TypeMeta::Make<float>());
        p.dtype = Precision::F16;
        try {
            Model::load(p);
            QFAIL("fp16 on the CPU loaded");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("CUDA only") != std::string::npos, e.what());
        }
    }

    // --dtype int8: the language model's linear layers hold int8 weights and a scale per row
    // (the vision tower and embeddings stay fp32), the plan says so, and the logits follow
    // fp32's. A prefill and the decode steps give the same next logits within 1e-4 (the same
    // products of x quantised per block), on every instruction set the CPU has.
    void int8WeightsFollowFp32() {
        auto cfg = testing::tiny_config();
        const std::string d = dir("int8");
        testing::write_tiny_model(d, cfg);
        LoadParams p = testing::load_params(d, "cpu");
        auto fp32 = Model::load(p);
        p.dtype = Precision::Int8;
        const ModelPlan plan = plan_model(p);
        QCOMPARE(to_string(plan.dtype), std::string("int8"));
        QCOMPARE(plan.weight_bytes, uint64_t(plan.parameters) * 4 -
                                        uint64_t(llama_linear_parameters(cfg.text)) * 3);
        auto int8 = Model::load(p);
        QCOMPARE(to_string(int8->info().dtype), std::string("int8"));
        QCOMPARE(int8->info().parameters, fp32->info().parameters);
        QVERIFY(int8->info().weight_bytes < fp32->info().weight_bytes);
        Llava& a = testing::llava_net(*fp32);
        Llava& b = testing::llava_net(*int8);
        int quantised = 0;
        for (const auto& m : b->language_model->modules(false))
            if (auto* lin = m->as<LinearImpl>()) {
                QCOMPARE(lin->weight.scalar_type(), torch::kInt8);
                QVERIFY(lin->scales.defined());
                ++quantised;
            }
        QCOMPARE(quantised, 7 * cfg.text.num_hidden_layers + (cfg.text.tie_word_embeddings ? 0 : 1));
        for (const auto& t : b->vision_tower->parameters()) QCOMPARE(t.scalar_type(), torch::kFloat32);

        torch::NoGradGuard ng;
        torch::manual_seed(11);
        auto ids = torch::randint(3, cfg.text.vocab_size, {1, 30}, torch::kInt64);
        auto ea = a->language_model->embed(ids);
        auto full = chunked_logits(a, ea, {30});
        auto prefill = chunked_logits(b, b->language_model->embed(ids), {30});
        auto stepped = chunked_logits(b, b->language_model->embed(ids), {12, 1, 1, 4, 4, 4, 4});
        QVERIFY(full.defined() && prefill.defined() && stepped.defined());
        const double path = (prefill - stepped).abs().max().item<double>();
        QVERIFY2(path < 1e-4, std::to_string(path).c_str());
        // Every instruction set below this CPU's best computes the same products (a prefill
        // without the kernel's tiles goes through BLAS on the same quantised x).
        for (int isa = int(kernels::best_isa()) - 1; isa >= 0; --isa) {
            const auto before = kernels::limit_isa(kernels::Isa(isa));
            auto p2 = chunked_logits(b, b->language_model->embed(ids), {30});
            auto s2 = chunked_logits(b, b->language_model->embed(ids), {12, 1, 1, 4, 4, 4, 4});
            kernels::limit_isa(before);
            QVERIFY(p2.defined() && s2.defined());
            const double across = std::max((p2 - prefill).abs().max().item<double>(),
                                           (s2 - prefill).abs().max().item<double>());
            QVERIFY2(across < 1e-4, (std::to_string(across) + " on " + kernels::isa_name(kernels::Isa(isa))).c_str());
        }
        const double err = (prefill - full).abs().max().item<double>();
        const double scale = full.abs().max().item<double>();
        QVERIFY2(err > 0 && err < 0.05 * scale, (std::to_string(err) + " of " + std::to_string(scale)).c_str());
        // Greedy choices mostly agree (random tiny weights have near ties).
        const double agree = (prefill.argmax(-1) == full.argmax(-1)).to(torch::kFloat32).mean().item<double>();
        QVERIFY2(agree >= 0.8, std::to_string(agree).c_str());
        // int8 is CPU only, with the reason.
        p.device = Device(DeviceKind::Cuda, 0);
        if (!torch::cuda::is_available()) QVERIFY_THROWS_EXCEPTION(Error, Model::load(p));
    }

    void unknownDeviceIsRefused() {
        const std::string d = dir("device");
        testing::write_tiny_model(d, testing::tiny_config());
        QVERIFY_THROWS_EXCEPTION(Error, Model::load(testing::load_params(d, "tpu")));
        if (!torch::cuda::is_available())
            QVERIFY_THROWS_EXCEPTION(Error, Model::load(testing::load_params(d, "cuda")));
    }

    // Phi-3 (InternVL2-4B's language model) as our LLaMA decoder: fused qkv_proj and
    // gate_up_proj split, LongRoPE's short factors for a forward inside the original context and
    // its long ones past it, cos/sin scaled by sqrt(1 + ln(max/original) / ln(original)); logits
    // equal transformers' Phi3ForCausalLM (tests/reference/phi3, tools/reference/phi3_reference.py)
    // within 1e-4 for 20 and 40 tokens.
    void phi3LongRopeEqualsTransformers() {
        const std::filesystem::path dir =
            std::filesystem::path(std::getenv("REGIONCHAT_SOURCE_DIR")) / "tests/reference/phi3";
        nlohmann::json ref;
        std::ifstream(dir / "reference.json") >> ref;
        TextConfig t = phi3_config(ref["config"]);
        QVERIFY(std::abs(t.rope_attention_factor - ref["attention_scaling"].get<double>()) < 1e-12);
        auto archive = SafetensorsArchive::open((dir / "reference.safetensors").string());
        auto get = [&](const std::string& n) {
            auto v = testing::read_tensor(*archive, n);
            if (!v.defined()) throw std::logic_error("no " + n);
            return v;
        };
        auto run = [&](const TextConfig& c, const std::vector<int64_t>& ids) {
            torch::NoGradGuard ng;
            LlamaForCausalLM lm(c);
            for (auto& item : lm->named_parameters()) {
                const std::string n = item.key();
                auto& p = item.value();
                // The fused weight's key as InternVL names it, without its "language_model.".
                int part = -1;
                const std::string fused = internvl_key("language_model." + n, &part).substr(15);
                if (part >= 0) {
                    p.copy_(phi3_fused_part(get(fused), fused.find("qkv_proj") != std::string::npos,
                                            part, c));
                } else {
                    p.copy_(get(n));
                }
            }
            return lm->logits(lm->forward(lm->embed(torch::tensor(ids).unsqueeze(0)), 0, nullptr))[0];
        };
        const auto ids20 = ref["ids_20"].get<std::vector<int64_t>>();
        const auto ids40 = ref["ids_40"].get<std::vector<int64_t>>();
        const double d20 = (run(t, ids20) - get("logits_20")).abs().max().item<double>();
        const double d40 = (run(t, ids40) - get("logits_40")).abs().max().item<double>();
        TextConfig short_only = t;
        short_only.rope_long_factor.clear();
        const double wrong = (run(short_only, ids40) - get("logits_40")).abs().max().item<double>();
        qInfo("Phi-3 LongRoPE logits max |diff|: 20 tokens %.3g, 40 tokens %.3g (short factors "
              "past the original context would be %.3g)", d20, d40, wrong);
        QVERIFY(d20 < 1e-4);
        QVERIFY(d40 < 1e-4);
        QVERIFY(wrong > 1e-3);
    }

    // InternVL2's vision side (CoLVA's InternVL2-4B) from OpenGVLab's original key names:
    // InternViT, pixel shuffle 0.5 and mlp1 equal transformers' native InternVLVisionModel and
    // InternVLMultiModalProjector (tests/reference/internvit, tools/reference/internvit_reference.py)
    // within 1e-4 for two tiles.
    void internVitEqualsTransformers() {
        const std::filesystem::path dir =
            std::filesystem::path(std::getenv("REGIONCHAT_SOURCE_DIR")) / "tests/reference/internvit";
        auto archive = SafetensorsArchive::open((dir / "reference.safetensors").string());
        InternVitConfig c;
        c.width = 64;
        c.depth = 2;
        c.heads = 4;
        c.mlp = 128;
        c.image_size = 56;
        struct Net : torch::nn::Module {
            InternVit vision_model{nullptr};
            InternVlProjector mlp1{nullptr};
        } net;
        net.vision_model = net.register_module("vision_model", InternVit(c));
        net.mlp1 = net.register_module("mlp1", InternVlProjector(4 * 64, 96));
        const auto report = load_state(net, *archive, [](const std::string& n) {
            return std::vector<std::string>{n};
        });
        QCOMPARE(report.unused.size(), size_t(4));  // the ref.* tensors
        torch::NoGradGuard ng;
        auto get = [&](const char* n) { return testing::read_tensor(*archive, n); };
        const auto vit = net.vision_model(get("ref.pixels"));
        const auto shuffled = internvl_pixel_shuffle(vit.narrow(1, 1, vit.size(1) - 1));
        const auto rows = net.mlp1(shuffled);
        const double dv = (vit - get("ref.vit")).abs().max().item<double>();
        const double ds = (shuffled - get("ref.shuffled")).abs().max().item<double>();
        const double dr = (rows - get("ref.rows")).abs().max().item<double>();
        qInfo("InternViT max |diff| %.3g, pixel shuffle %.3g, mlp1 rows %.3g", dv, ds, dr);
        QCOMPARE(rows.sizes().vec(), (std::vector<int64_t>{2, 4, 96}));
        QVERIFY(dv < 1e-4);
        QVERIFY(ds < 1e-4);
        QVERIFY(dr < 1e-4);
        // The shuffle is not a plain reshape: the transposed layout would differ.
        const auto plain = vit.narrow(1, 1, vit.size(1) - 1).reshape({2, 4, 256});
        QVERIFY((plain - get("ref.shuffled")).abs().max().item<double>() > 1e-2);
    }

    // InternVL2 end to end (CoLVA's base) from OpenGVLab's key names: 3 tiles' rows, the logits
    // of a prompt with 12 image rows and 20 greedy tokens through the KV cache (crossing
    // LongRoPE's original context at position 40) equal transformers' native
    // InternVLForConditionalGeneration with a Phi-3 text model (tests/reference/internvl,
    // tools/reference/internvl_reference.py).
    void internVlEqualsTransformers() {
        const std::filesystem::path dir =
            std::filesystem::path(std::getenv("REGIONCHAT_SOURCE_DIR")) / "tests/reference/internvl";
        nlohmann::json ref;
        std::ifstream(dir / "reference.json") >> ref;
        InternVlConfig c;
        c.vision.width = 64;
        c.vision.depth = 2;
        c.vision.heads = 4;
        c.vision.mlp = 128;
        c.vision.image_size = 56;
        c.text = phi3_config(ref["text_config"]);
        auto archive = SafetensorsArchive::open((dir / "reference.safetensors").string());
        InternVlNet net(c);
        const uint64_t bytes = load_internvl(*net, *archive);
        QVERIFY(bytes > 0);
        torch::NoGradGuard ng;
        auto get = [&](const char* n) { return testing::read_tensor(*archive, n); };
        const auto rows = net->image_rows(get("ref.pixels"));
        const double dr = (rows - get("ref.rows")).abs().max().item<double>();
        const auto ids = ref["ids"].get<std::vector<int64_t>>();
        auto lm = net->language_model;
        auto emb = lm->embed(torch::tensor(ids).unsqueeze(0));
        const int64_t image_id = ref["image_token_id"];
        for (size_t i = 0, r = 0; i < ids.size(); ++i)
            if (ids[i] == image_id) emb[0][int64_t(i)].copy_(rows[int64_t(r++)]);
        KvCache cache = lm->make_cache();
        const auto logits = lm->logits(lm->forward(emb, 0, &cache))[0];
        const double dl = (logits - get("ref.logits")).abs().max().item<double>();
        std::vector<int64_t> greedy;
        auto last = logits[logits.size(0) - 1];
        int64_t pos = int64_t(ids.size());
        for (int k = 0; k < 20; ++k) {
            const int64_t tok = last.argmax().item<int64_t>();
            greedy.push_back(tok);
            last = lm->logits(lm->forward(lm->embed(torch::tensor({tok}).unsqueeze(0)), pos++, &cache))[0][0];
        }
        qInfo("InternVL2 max |diff|: image rows %.3g, logits %.3g over %lld positions", dr, dl,
              static_cast<long long>(logits.size(0)));
        QVERIFY(dr < 1e-4);
        QVERIFY(dl < 1e-4);
        QCOMPARE(greedy, ref["greedy"].get<std::vector<int64_t>>());
        // The key map: our q/k/v and gate/up are thirds and halves of Phi-3's fused weights.
        int part = -1;
        QCOMPARE(internvl_key("language_model.model.layers.1.self_attn.v_proj.weight", &part),
                 std::string("language_model.model.layers.1.self_attn.qkv_proj.weight"));
        QCOMPARE(part, 2);
        QCOMPARE(internvl_key("language_model.model.layers.0.mlp.up_proj.weight", &part),
                 std::string("language_model.model.layers.0.mlp.gate_up_proj.weight"));
        QCOMPARE(part, 1);
    }
};

QTEST_APPLESS_MAIN(TestModel)
#include "test_model.moc"
