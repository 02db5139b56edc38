#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <list>

#include "engine/model_impl.h"
#include "engine/prompt.h"
#include "regionchat/error.h"
#include "regionchat/preprocess.h"

namespace rc {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

size_t count_of(const std::string& text, const std::string& marker) {
    size_t n = 0;
    for (size_t p = text.find(marker); p != std::string::npos; p = text.find(marker, p + marker.size()))
        ++n;
    return n;
}

size_t count_markers(const std::string& text) {
    return count_of(text, kImageMarker);
}

// Slots a message takes: its images and its region tokens.
size_t count_slots(const std::string& text) {
    return count_of(text, kImageMarker) + count_of(text, kRegionTokenMarker);
}

using Sequence = PromptSequence;

}  // namespace

size_t utf8_complete_prefix(const std::string& s) {
    size_t n = s.size();
    // Walk back over at most 3 continuation bytes to the lead byte of the last character.
    size_t i = n;
    int back = 0;
    while (i > 0 && back < 4 && (static_cast<uint8_t>(s[i - 1]) & 0xC0) == 0x80) {
        --i;
        ++back;
    }
    if (i == 0) return back ? 0 : n;
    const uint8_t lead = static_cast<uint8_t>(s[i - 1]);
    int need = 0;
    if (lead < 0x80)
        need = 0;
    else if ((lead & 0xE0) == 0xC0)
        need = 1;
    else if ((lead & 0xF0) == 0xE0)
        need = 2;
    else if ((lead & 0xF8) == 0xF0)
        need = 3;
    else
        return n;  // not a lead byte: malformed, pass through as is
    if (back == 0 && need == 0) return n;
    return back >= need ? n : i - 1;
}

struct Session::Impl {
    std::vector<int> beam_search(const torch::Tensor& prompt_logits, const GenerateParams& params,
                                 BeamParams bp, int budget, StopReason* stop);
    std::shared_ptr<Model> model;
    Model::Impl& m;
    Network& net;
    std::vector<ChatMessage> messages;
    struct ImageSlot {
        uint64_t hash;
        ImageSize size;
        int64_t tokens;  // rows the network encoded the image into
    };
    std::vector<ImageSlot> images;
    std::vector<int64_t> cached_keys;  // what the state holds, position by position
    std::unique_ptr<DecodeState> state;
    // Small LRU of projected image features (a follow-up question does not re-encode).
    std::list<std::pair<uint64_t, torch::Tensor>> features;
    static constexpr size_t kFeatureCacheSize = 8;

    explicit Impl(std::shared_ptr<Model> mdl)
        : model(std::move(mdl)),
          m(ModelAccess::of(*model)),
          net(*m.network),
          state(net.new_state()),
          seq2seq(net.architecture() == Network::Architecture::EncoderDecoder) {}

    // ---- encoder-decoder networks (RegionVLM's T5) ----
    // The whole conversation is encoded again at each turn (the encoder is bidirectional, so
    // nothing of the last turn's encoding can be kept); the decoder starts afresh.
    const bool seq2seq;
    std::list<std::pair<uint64_t, cv::Mat>> pixels;  // images a prompt may condition rows on

    // The encoder's input for rendered pieces: each text piece tokenised on its own without
    // </s>; "<image>" is the first image's rows (its features), "<points N>S</points>" the
    // rows the network makes for the first image with the text S; Eos pieces are </s>.
    // Answer pieces are skipped (they are the decoder's). Returns [1, S, D].
    torch::Tensor encoder_input(const std::vector<PromptPiece>& pieces,
                                const std::vector<ImageSlot>& slots, int* positions) {
        std::vector<torch::Tensor> parts;
        auto ids_rows = [&](const std::vector<int64_t>& ids) {
            if (ids.empty()) return;
            parts.push_back(net.embed_tokens(torch::tensor(ids, torch::kInt64).to(m.device).unsqueeze(0)));
        };
        auto first_image = [&]() -> const cv::Mat& {
            if (slots.empty()) throw Error("this question refers to an image but none was given");
            for (const auto& p : pixels)
                if (p.first == slots.front().hash) return p.second;
            throw Error("the image was evicted; start a new conversation");
        };
        for (const PromptPiece& piece : pieces) {
            if (piece.is_answer) continue;
            if (piece.kind == PromptPiece::Kind::Eos) {
                ids_rows({int64_t(m.tokenizer->eos_id())});
                continue;
            }
            if (piece.kind != PromptPiece::Kind::Text) continue;
            const std::string& t = piece.text;
            size_t at = 0;
            while (at < t.size()) {
                const size_t img = t.find(kImageMarker, at), pts = t.find("<points ", at);
                const size_t next = std::min(img, pts);
                const std::string chunk = t.substr(at, next == std::string::npos ? std::string::npos : next - at);
                if (!chunk.empty()) {
                    const auto ids = m.tokenizer->encode(chunk, false);
                    ids_rows(std::vector<int64_t>(ids.begin(), ids.end()));
                }
                if (next == std::string::npos) break;
                if (next == img) {
                    if (slots.empty()) throw Error("the prompt has an <image> but no image was given");
                    auto f = features_for(slots.front().hash);
                    if (!f.defined()) throw Error("image features were evicted; start a new conversation");
                    parts.push_back(f.unsqueeze(0));
                    at = img + kImageMarker.size();
                } else {
                    const size_t gt = t.find('>', pts), close = t.find("</points>", pts);
                    if (gt == std::string::npos || close == std::string::npos || close < gt)
                        throw Error("a <points> region prompt is not closed");
                    const std::string text = t.substr(gt + 1, close - gt - 1);
                    parts.push_back(net.encode_image_with_text(first_image(), text).unsqueeze(0));
                    at = close + 9;
                }
            }
        }
        if (parts.empty()) throw Error("nothing to encode");
        auto x = torch::cat(parts, 1);
        *positions = int(x.size(1));
        return x;
    }

    // Encodes the conversation `msgs` into `state` and runs the decoder's start token.
    // Returns its logits row. `answer_positions` > 0: the decoder's cache is reserved for
    // that many positions first (the start token plus the answer's budget).
    torch::Tensor start_seq2seq(const std::vector<ChatMessage>& msgs,
                                const std::vector<ImageSlot>& slots, int* positions,
                                int64_t answer_positions = 0) {
        const auto pieces = m.chat_template->render(msgs);
        auto enc = encoder_input(pieces, slots, positions);
        if (*positions > net.max_positions())
            throw Error("the conversation is " + std::to_string(*positions) +
                        " encoder positions long; the model allows " +
                        std::to_string(net.max_positions()) + ". Start a new conversation.");
        state = net.new_state();
        cached_keys.clear();
        net.encode_prompt(enc, *state);
        if (answer_positions > 0) state->reserve(answer_positions);
        auto h = net.forward(embed_one(net.decoder_start_id()), *state);
        return net.logits(h.select(1, 0));
    }

    // Mean NLL of `answer` + </s> from the decoder over the encoded conversation (LAVIS'
    // Blip2T5.forward: labels are the answer's T5 ids with their </s>, decoder input shifted
    // right from the start token; the mean over all of them).
    double seq2seq_nll(const std::vector<ChatMessage>& msgs, const std::vector<ImageSlot>& slots,
                       const std::string& answer) {
        int positions = 0;
        auto first = start_seq2seq(msgs, slots, &positions);
        const auto a = m.tokenizer->encode(answer, false);
        std::vector<int64_t> labels(a.begin(), a.end());
        labels.push_back(m.tokenizer->eos_id());
        std::vector<torch::Tensor> rows = {first.reshape({1, -1})};
        if (labels.size() > 1) {
            std::vector<int64_t> in(labels.begin(), labels.end() - 1);
            auto h = net.forward(net.embed_tokens(torch::tensor(in, torch::kInt64).to(m.device).unsqueeze(0)),
                                 *state);
            rows.push_back(net.logits(h[0]));
        }
        auto logp = torch::log_softmax(torch::cat(rows, 0).to(torch::kFloat32), -1);
        auto tgt = torch::tensor(labels, torch::kInt64).to(logp.device()).unsqueeze(1);
        const double nll = -logp.gather(1, tgt).mean().item<double>();
        state = net.new_state();  // the conversation's state is rebuilt by the next ask()
        return nll;
    }

    torch::Tensor embed_one(int64_t id) {
        return net.embed_tokens(torch::tensor({id}, torch::kInt64).to(m.device).unsqueeze(0));
    }

    // Region rows (one row each, small): an LRU of their own so they never evict images.
    std::list<std::pair<uint64_t, torch::Tensor>> region_features;
    static constexpr size_t kRegionCacheSize = 256;

    torch::Tensor features_for(uint64_t hash) {
        for (auto* list : {&features, &region_features})
            for (auto it = list->begin(); it != list->end(); ++it)
                if (it->first == hash) {
                    list->splice(list->begin(), *list, it);
                    return it->second;
                }
        return {};
    }

    // Adds images to the tentative list, encoding those not cached. Returns encode ms.
    double add_images(const std::vector<cv::Mat>& input, std::vector<ImageSlot>& slots) {
        double ms = 0;
        for (const auto& raw : input) {
            const cv::Mat bgr = as_bgr8(raw);
            const uint64_t h = image_hash(bgr);
            torch::Tensor f = features_for(h);
            if (!f.defined()) {
                const auto t = Clock::now();
                f = net.encode_image(bgr);
                ms += ms_since(t);
                features.emplace_front(h, f);
                if (features.size() > kFeatureCacheSize) features.pop_back();
            }
            slots.push_back({h, {bgr.cols, bgr.rows}, f.size(0)});
            if (seq2seq) {
                pixels.remove_if([&](const auto& p) { return p.first == h; });
                pixels.emplace_front(h, bgr.data == raw.data ? bgr.clone() : bgr);
                if (pixels.size() > kFeatureCacheSize) pixels.pop_back();
            }
        }
        return ms;
    }

    Sequence build(const std::vector<ChatMessage>& msgs, const std::vector<ImageSlot>& slots,
                   AnswerMarks marks) const {
        std::vector<int64_t> counts;
        for (const auto& slot : slots) counts.push_back(slot.tokens);
        Sequence seq = build_prompt_sequence(*m.chat_template, *m.tokenizer, msgs, counts, marks);
        key_images_by_content(seq, slots);
        return seq;
    }

    // Image positions keyed by the image's hash rather than its index in a list, so the KV
    // cache is reused only where the same pixels stood (one_turn_nll brings its own list).
    static void key_images_by_content(Sequence& seq, const std::vector<ImageSlot>& slots) {
        for (const auto& span : seq.images) {
            const int64_t key = -1 - int64_t(slots[span.image].hash >> 2);
            for (int64_t i = 0; i < span.length; ++i) seq.keys[span.start + i] = key;
        }
    }

    // LLaVA's tokenizer_image_token (DualFocus' scoring is LLaVA's preprocess): chunks between
    // "<image>" tokenised on their own, "</s>" in the text is EOS, kImagePlaceholder per marker.
    std::vector<int64_t> tokenize_image_text(const std::string& text, bool bos) const {
        return tokenize_prompt_text(*m.tokenizer, text, bos, true);
    }

    // Embeddings [1, b-a, D] of positions [a, b) of `seq`.
    torch::Tensor embed_range(const Sequence& seq, int64_t a, int64_t b,
                              const std::vector<ImageSlot>& slots) {
        std::vector<int64_t> ids(seq.keys.begin() + a, seq.keys.begin() + b);
        for (auto& id : ids) id = std::max<int64_t>(id, 0);
        auto idt = torch::tensor(ids, torch::kInt64).to(m.device).unsqueeze(0);
        auto emb = net.embed_tokens(idt);
        for (const auto& span : seq.images) {
            const int64_t s = std::max(span.start, a), e = std::min(span.start + span.length, b);
            if (s >= e) continue;
            auto f = features_for(slots[span.image].hash);
            if (!f.defined())  // evicted by a long conversation with many images
                throw Error("image features were evicted; start a new conversation");
            emb[0].narrow(0, s - a, e - s).copy_(f.narrow(0, s - span.start, e - s));
        }
        return emb;
    }

    // Keeps the cached prefix shared with `seq` (at most `limit` positions) and returns its length.
    int64_t reuse_prefix(const Sequence& seq, int64_t limit) {
        int64_t common = 0;
        const int64_t n = std::min<int64_t>(cached_keys.size(), seq.keys.size());
        while (common < n && cached_keys[common] == seq.keys[common]) ++common;
        common = std::min(common, limit);
        state->truncate(common);
        cached_keys.resize(common);
        return common;
    }

    // Runs positions [a, b) through the decoder with the cache; returns hidden [1, b-a, D].
    torch::Tensor prefill(const Sequence& seq, int64_t a, int64_t b,
                          const std::vector<ImageSlot>& slots, const GenerateParams* params,
                          bool* aborted) {
        constexpr int64_t kChunk = 512;
        std::vector<torch::Tensor> hidden;
        for (int64_t s = a; s < b; s += kChunk) {
            if (params && params->should_abort && params->should_abort()) {
                *aborted = true;
                break;
            }
            const int64_t e = std::min(b, s + kChunk);
            hidden.push_back(net.forward(embed_range(seq, s, e, slots), *state));
            cached_keys.insert(cached_keys.end(), seq.keys.begin() + s, seq.keys.begin() + e);
        }
        return hidden.empty() ? torch::Tensor() : torch::cat(hidden, 1);
    }

    void check_images(const std::string& text, const std::vector<cv::Mat>& imgs,
                      std::string* out_text) {
        const size_t markers = count_markers(text);
        *out_text = text;
        if (markers == 0 && !imgs.empty()) {
            std::string prefix;
            for (size_t i = 0; i < imgs.size(); ++i) prefix += kImageMarker + "\n";
            *out_text = prefix + text;
        } else if (markers != imgs.size()) {
            throw Error("the question has " + std::to_string(markers) + " <image> markers but " +
                        std::to_string(imgs.size()) + " images were given");
        }
    }

    // Region tokens: one row each (net.encode_regions, once per image for all its masks),
    // cached like image features under a key of the image's and the mask's pixels.
    double region_slots(const std::vector<RegionToken>& regions, std::vector<ImageSlot>& out) {
        double ms = 0;
        out.assign(regions.size(), ImageSlot{});
        std::vector<uint64_t> keys(regions.size()), image_keys(regions.size());
        std::vector<cv::Mat> bgr(regions.size());
        for (size_t i = 0; i < regions.size(); ++i) {
            bgr[i] = to_bgr8(regions[i].image);
            const cv::Mat& mk = regions[i].mask;
            if (mk.empty() || mk.type() != CV_8UC1 || mk.size() != bgr[i].size())
                throw Error("region " + std::to_string(i + 1) +
                            ": its mask must be 8-bit and the size of its image");
            image_keys[i] = image_hash(bgr[i]);
            keys[i] = image_keys[i] * 1000003ull ^ image_hash(mk) ^ 0x9e3779b97f4a7c15ull;
            out[i] = {keys[i], {bgr[i].cols, bgr[i].rows}, 1};
        }
        std::vector<char> done(regions.size(), 0);
        for (size_t i = 0; i < regions.size(); ++i) {
            if (done[i] || features_for(keys[i]).defined()) continue;
            // Every region of this image not cached yet, in one call.
            std::vector<size_t> group;
            std::vector<cv::Mat> masks;
            for (size_t j = i; j < regions.size(); ++j)
                if (!done[j] && image_keys[j] == image_keys[i] && !features_for(keys[j]).defined()) {
                    group.push_back(j);
                    masks.push_back(regions[j].mask);
                }
            const auto t = Clock::now();
            const torch::Tensor rows = net.encode_regions(bgr[i], masks);
            ms += ms_since(t);
            for (size_t g = 0; g < group.size(); ++g) {
                region_features.emplace_front(keys[group[g]], rows.narrow(0, int64_t(g), 1).clone());
                done[group[g]] = 1;
            }
            while (region_features.size() > std::max(kRegionCacheSize, regions.size()))
                region_features.pop_back();
        }
        return ms;
    }

    // The conversation with one more user turn: `text` ("<image>" markers checked against
    // `imgs`, or "<image>\n" put in front of it; "<region_token>" markers against `regions`)
    // and both encoded into `slots` (a copy of the conversation's own, the new ones in the
    // order their markers stand). Returns the encode ms through `encode_ms`.
    std::vector<ChatMessage> with_user_turn(const std::string& text,
                                            const std::vector<cv::Mat>& imgs,
                                            std::vector<ImageSlot>* slots,
                                            double* encode_ms = nullptr,
                                            const std::vector<RegionToken>& regions = {}) {
        std::string user_text;
        check_images(text, imgs, &user_text);
        const size_t region_markers = count_of(user_text, kRegionTokenMarker);
        if (region_markers != regions.size())
            throw Error("the question has " + std::to_string(region_markers) +
                        " region-token markers but " + std::to_string(regions.size()) +
                        " region tokens were given");
        *slots = images;
        std::vector<ImageSlot> image_slots, reg_slots;
        double ms = add_images(imgs, image_slots);
        if (!regions.empty()) {
            if (!m.info.reads_region_tokens)
                throw Error("this model reads no region tokens");
            ms += region_slots(regions, reg_slots);
        }
        size_t next_image = 0, next_region = 0;
        bool region = false;
        size_t length = 0;
        for (size_t at = 0; (at = next_slot_marker(user_text, at, &region, &length)) != std::string::npos;
             at += length)
            slots->push_back(region ? reg_slots[next_region++] : image_slots[next_image++]);
        if (encode_ms) *encode_ms = ms;
        std::vector<ChatMessage> msgs = messages;
        msgs.push_back({ChatMessage::Role::User, user_text});
        return msgs;
    }
};

// Beam search from the prompt's last logits: one copy of the decoder state per beam, the
// beams reordered after each step by their parents, each live beam's token run through its
// own state. The session's own state keeps the prompt only (the next turn prefills the
// answer). Returns the best hypothesis' tokens; `stop` says how it ended.
std::vector<int> Session::Impl::beam_search(const torch::Tensor& prompt_logits,
                                            const GenerateParams& params, BeamParams bp,
                                            int budget, StopReason* stop) {
    bp.max_new_tokens = budget;
    if (bp.length_offset < 0) bp.length_offset = m.beam_length_offset;
    BeamSearch search(bp, m.tokenizer->eos_id());
    std::vector<std::unique_ptr<DecodeState>> states;
    states.push_back(state->clone());
    if (!states.back())
        throw Error("this model cannot run beam search (its decoder state cannot be copied)");
    std::vector<torch::Tensor> rows = {prompt_logits.reshape({1, -1})};
    bool aborted = false;
    while (!search.done()) {
        if (params.should_abort && params.should_abort()) {
            aborted = true;
            break;
        }
        auto lp = torch::log_softmax(torch::cat(rows, 0).to(torch::kFloat32), -1)
                      .to(torch::kCPU)
                      .contiguous();
        search.step(lp.data_ptr<float>(), lp.size(1));
        if (params.on_beam_step && !search.sequences().empty())
            params.on_beam_step(search.steps(), budget, m.tokenizer->decode(search.sequences()[0]));
        if (search.done()) break;
        // Each live beam continues its parent's state: moved when it is the parent's last
        // child, copied otherwise.
        const std::vector<int>& parents = search.parents();
        std::vector<int> uses(states.size(), 0);
        for (int p : parents) ++uses[size_t(p)];
        std::vector<std::unique_ptr<DecodeState>> next;
        for (int p : parents) {
            if (--uses[size_t(p)] > 0) {
                next.push_back(states[size_t(p)]->clone());
            } else {
                next.push_back(std::move(states[size_t(p)]));
            }
        }
        states = std::move(next);
        rows.clear();
        for (size_t b = 0; b < states.size(); ++b) {
            const int64_t token = search.sequences()[b].back();
            auto emb = net.embed_tokens(
                torch::tensor({token}, torch::kInt64).to(m.device).unsqueeze(0));
            auto h = net.forward(emb, *states[b]);
            rows.push_back(net.logits(h.select(1, 0)).reshape({1, -1}));
        }
    }
    bool eos = false;
    std::vector<int> best = search.best(&eos);
    *stop = aborted ? StopReason::Abort : eos ? StopReason::Eos : StopReason::Length;
    return best;
}

Session::Session(std::shared_ptr<Model> model) : impl_(std::make_unique<Impl>(std::move(model))) {}
Session::~Session() = default;

Reply Session::ask(const std::string& text, const std::vector<cv::Mat>& imgs,
                   const GenerateParams& params, const std::vector<RegionToken>& regions) {
    Impl& s = *impl_;
    Model::Impl& m = s.m;
    torch::NoGradGuard no_grad;
    const auto t0 = Clock::now();
    Reply reply;

    std::vector<Impl::ImageSlot> slots;
    std::vector<ChatMessage> msgs =
        s.with_user_turn(text, imgs, &slots, &reply.timings.image_encode_ms, regions);
    const int64_t max_pos = s.net.max_positions();
    int64_t len = 0;  // decoder positions before the answer
    bool aborted = false;
    torch::Tensor hidden, logits;
    const auto tp = Clock::now();
    if (s.seq2seq) {
        int positions = 0;
        logits = s.start_seq2seq(msgs, slots, &positions, 1 + std::max(params.max_new_tokens, 0));
        reply.timings.prompt_tokens = positions;
        len = 1;
    } else {
        // Asking needs no answer marks (each would tokenise the text up to it twice more).
        Sequence seq = s.build(msgs, slots, AnswerMarks::None);
        len = static_cast<int64_t>(seq.keys.size());
        if (len >= max_pos)
            throw Error("the conversation is " + std::to_string(len) +
                        " tokens long; the model allows " + std::to_string(max_pos) +
                        ". Start a new conversation.");
        reply.timings.prompt_tokens = static_cast<int>(len);
        const int64_t keep = s.reuse_prefix(seq, len - 1);
        reply.timings.reused_tokens = static_cast<int>(keep);
        // The KV cache of this turn, allocated once: the decode loop below never grows it.
        s.state->reserve(std::min<int64_t>(max_pos, len + std::max(params.max_new_tokens, 0)));
        hidden = s.prefill(seq, keep, len, slots, &params, &aborted);
    }
    reply.timings.prefill_ms = ms_since(tp);

    std::vector<int> generated;
    size_t emitted = 0;
    std::string answer;
    Sampler sampler(params.sampling);
    const int64_t budget = std::min<int64_t>(params.max_new_tokens, max_pos - len);
    Clock::time_point first_token_at;
    reply.stop_reason = StopReason::Length;
    if (!aborted && !logits.defined()) logits = s.net.logits(hidden.select(1, hidden.size(1) - 1));
    BeamParams beams = params.beams;
    if (beams.num_beams <= 0) {  // the model's published setting
        beams.num_beams = m.info.default_beams;
        beams.length_penalty = m.info.default_length_penalty;
    }
    if (!aborted && beams.num_beams > 1 && budget > 0) {
        first_token_at = Clock::now();
        generated = s.beam_search(logits, params, beams, int(budget), &reply.stop_reason);
        reply.timings.first_token_ms = ms_since(t0);  // the answer comes whole, at the end
        answer = m.tokenizer->decode(generated);
        aborted = reply.stop_reason == StopReason::Abort;
        if (params.on_token && !answer.empty()) params.on_token(answer);
        emitted = answer.size();
    }
    while (!aborted && beams.num_beams <= 1) {
        if (params.should_abort && params.should_abort()) {
            aborted = true;
            break;
        }
        if (static_cast<int64_t>(generated.size()) >= budget) break;
        auto row = logits.reshape({-1}).to(torch::kCPU, torch::kFloat32).contiguous();
        if (static_cast<int64_t>(generated.size()) < params.min_new_tokens) {
            const int64_t eos = m.tokenizer->eos_id();
            if (eos >= 0 && eos < row.numel()) row.data_ptr<float>()[eos] = -std::numeric_limits<float>::infinity();
        }
        const int token = sampler.sample(row.data_ptr<float>(), static_cast<size_t>(row.numel()));
        if (generated.empty()) {
            first_token_at = Clock::now();
            reply.timings.first_token_ms = ms_since(t0);
        }
        if (token == m.tokenizer->eos_id()) {
            reply.stop_reason = StopReason::Eos;
            break;
        }
        generated.push_back(token);
        answer = m.tokenizer->decode(generated);
        const size_t complete = utf8_complete_prefix(answer);
        if (complete > emitted) {
            if (params.on_token) params.on_token(answer.substr(emitted, complete - emitted));
            emitted = complete;
        }
        if (static_cast<int64_t>(generated.size()) >= budget) break;  // no need to feed it
        auto emb = s.net.embed_tokens(
            torch::tensor({static_cast<int64_t>(token)}, torch::kInt64).to(m.device).unsqueeze(0));
        auto h = s.net.forward(emb, *s.state);
        s.cached_keys.push_back(token);
        logits = s.net.logits(h.select(1, 0));
    }
    if (aborted) reply.stop_reason = StopReason::Abort;
    if (emitted < answer.size() && params.on_token) params.on_token(answer.substr(emitted));

    s.images = std::move(slots);
    msgs.push_back({ChatMessage::Role::Assistant, answer});
    s.messages = std::move(msgs);

    reply.text = answer;
    const ImageSize first = first_image_size();
    if (first.width > 0) reply.boxes = m.region_format->parse(answer, first);
    reply.timings.generated_tokens = static_cast<int>(generated.size());
    reply.timings.total_ms = ms_since(t0);
    if (generated.size() > 1) {
        const double decode_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - first_token_at).count();
        if (decode_ms > 0) reply.timings.tokens_per_s = (generated.size() - 1) * 1000.0 / decode_ms;
    }
    return reply;
}

double Session::answer_nll(const std::string& text, const std::vector<cv::Mat>& imgs,
                           const std::string& answer, const std::vector<RegionToken>& regions) {
    Impl& s = *impl_;
    torch::NoGradGuard no_grad;
    std::vector<Impl::ImageSlot> slots;
    std::vector<ChatMessage> msgs = s.with_user_turn(text, imgs, &slots, nullptr, regions);
    if (s.seq2seq) return s.seq2seq_nll(msgs, slots, answer);
    msgs.push_back({ChatMessage::Role::Assistant, answer});
    Sequence seq = s.build(msgs, slots, AnswerMarks::Last);
    const int64_t len = static_cast<int64_t>(seq.keys.size());
    if (len > s.net.max_positions()) throw Error("the conversation is too long to score");
    // The last answer: the trailing run of answer positions.
    int64_t first = len;
    while (first > 0 && seq.is_answer[first - 1]) --first;
    if (first == len || first == 0) throw Error("nothing to score");
    const int64_t keep = s.reuse_prefix(seq, first - 1);
    s.state->reserve(len);
    bool aborted = false;
    auto hidden = s.prefill(seq, keep, len, slots, nullptr, &aborted);
    // hidden[i] predicts position keep + i + 1; we need predictions of [first, len).
    auto h = hidden.narrow(1, first - 1 - keep, len - first);
    auto logp = torch::log_softmax(s.net.logits(h).to(torch::kFloat32), -1);
    auto targets =
        torch::tensor(std::vector<int64_t>(seq.keys.begin() + first, seq.keys.end()), torch::kInt64)
            .to(logp.device())
            .view({1, -1, 1});
    return -logp.gather(-1, targets).mean().item<double>();
}

Session::LabelledTokens Session::label_one_turn(const std::string& human,
                                                const std::string& answer) const {
    const Impl& s = *impl_;
    // The conversation as LLaVA's get_prompt() writes it: no BOS text.
    std::string conv = pieces_to_string(s.m.chat_template->render(
        {{ChatMessage::Role::User, human}, {ChatMessage::Role::Assistant, answer}}));
    if (conv.rfind("<s>", 0) == 0) conv.erase(0, 3);
    LabelledTokens out;
    out.ids = s.tokenize_image_text(conv, true);
    const std::vector<int64_t>& ids = out.ids;
    // preprocess_v1's labels.
    static const std::string kSep = " ASSISTANT: ", kSep2 = "</s>";
    std::vector<uint8_t>& labelled = out.labelled;
    labelled.assign(ids.size(), 1);
    auto tok_len = [&](const std::string& t) {
        return int64_t(s.tokenize_image_text(t, true).size());
    };
    int64_t cur = 1;
    labelled[0] = 0;
    size_t from = 0;
    while (from <= conv.size()) {
        const size_t end = conv.find(kSep2, from);
        const std::string round =
            conv.substr(from, end == std::string::npos ? std::string::npos : end - from);
        if (round.empty()) break;
        const size_t sep = round.find(kSep);
        // Python's split: occurrences do not overlap (MMBench's "... ASSISTANT: ASSISTANT: x"
        // is two parts).
        if (sep == std::string::npos || round.find(kSep, sep + kSep.size()) != std::string::npos)
            break;
        const int64_t round_len = tok_len(round);
        const int64_t instruction_len = tok_len(round.substr(0, sep) + kSep) - 2;
        for (int64_t i = std::max<int64_t>(cur, 0);
             i < std::min<int64_t>(cur + instruction_len, int64_t(ids.size())); ++i)
            labelled[i] = 0;
        cur += round_len;
        if (end == std::string::npos) break;
        from = end + kSep2.size();
    }
    for (int64_t i = std::max<int64_t>(cur, 0); i < int64_t(ids.size()); ++i) labelled[i] = 0;
    int64_t total = 0;
    for (int64_t id : ids) total += id != 0;  // LLaVA counts tokens other than pad (= unk, 0)
    if (cur != total)
        throw Error("the scored text does not split into rounds as LLaVA's preprocess does");
    return out;
}

double Session::one_turn_nll(const std::string& human, const std::vector<cv::Mat>& imgs,
                             const std::string& answer) {
    Impl& s = *impl_;
    torch::NoGradGuard no_grad;
    if (s.seq2seq) throw Error("LLaVA's one-turn scoring is not defined for an encoder-decoder model");
    const LabelledTokens lt = label_one_turn(human, answer);
    const std::vector<int64_t>& ids = lt.ids;
    const std::vector<uint8_t>& labelled = lt.labelled;

    // Positions: each image placeholder becomes its features' rows.
    std::vector<Impl::ImageSlot> slots;
    s.add_images(imgs, slots);
    Sequence seq;
    std::vector<uint8_t> label_at;
    size_t next_image = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == kImagePlaceholder) {
            if (next_image >= slots.size())
                throw Error("the scored text has more <image> markers than images");
            const int64_t n = slots[next_image].tokens;
            seq.images.push_back({int64_t(seq.keys.size()), int(next_image), n});
            for (int64_t k = 0; k < n; ++k) {
                seq.keys.push_back(-1);
                label_at.push_back(0);
            }
            ++next_image;
        } else {
            seq.keys.push_back(ids[i]);
            label_at.push_back(labelled[i]);
        }
    }
    if (next_image != slots.size()) throw Error("more images than <image> markers to score");
    Impl::key_images_by_content(seq, slots);
    seq.is_answer = label_at;
    const int64_t len = int64_t(seq.keys.size());
    if (len > s.net.max_positions()) throw Error("the text is too long to score");
    int64_t first = 1;
    while (first < len && !label_at[first]) ++first;
    if (first >= len) throw Error("nothing to score");
    const int64_t keep = s.reuse_prefix(seq, first - 1);
    s.state->reserve(len);
    bool aborted = false;
    auto hidden = s.prefill(seq, keep, len, slots, nullptr, &aborted);
    // hidden[i] predicts position keep + i + 1.
    auto logp = torch::log_softmax(
        s.net.logits(hidden.narrow(1, first - 1 - keep, len - first)).to(torch::kFloat32), -1);
    std::vector<int64_t> rows, targets;
    for (int64_t t = first; t < len; ++t)
        if (label_at[t]) {
            rows.push_back(t - first);
            targets.push_back(seq.keys[t]);
        }
    auto idx = torch::tensor(rows, torch::kInt64).to(logp.device());
    auto tgt = torch::tensor(targets, torch::kInt64).to(logp.device()).unsqueeze(1);
    auto picked = logp[0].index_select(0, idx).gather(1, tgt);
    return -picked.mean().item<double>();
}

void Session::add_exchange(const std::string& text, const std::vector<cv::Mat>& imgs,
                           const std::string& answer, const std::vector<RegionToken>& regions) {
    Impl& s = *impl_;
    torch::NoGradGuard no_grad;
    std::vector<Impl::ImageSlot> slots;
    s.messages = s.with_user_turn(text, imgs, &slots, nullptr, regions);
    s.images = std::move(slots);
    s.messages.push_back({ChatMessage::Role::Assistant, answer});
}

void Session::reset() {
    impl_->messages.clear();
    impl_->images.clear();
    impl_->cached_keys.clear();
    impl_->state->clear();
}

void Session::truncate(size_t message_count) {
    Impl& s = *impl_;
    if (message_count >= s.messages.size()) return;
    s.messages.resize(message_count);
    size_t images = 0;
    for (const auto& m : s.messages) images += count_slots(m.text);
    s.images.resize(std::min(images, s.images.size()));
}

void Session::drop_cache() {
    impl_->cached_keys.clear();
    impl_->state->clear();
}

const std::vector<ChatMessage>& Session::messages() const {
    return impl_->messages;
}

ImageSize Session::first_image_size() const {
    return impl_->images.empty() ? ImageSize{} : impl_->images.front().size;
}

int64_t Session::cached_tokens() const {
    return impl_->state->length();
}

std::vector<int64_t> Session::cached_ids() const {
    std::vector<int64_t> ids = impl_->cached_keys;
    for (int64_t& id : ids)
        if (id < 0) id = -1;  // image rows are keyed by their pixels' hash
    return ids;
}

Model& Session::model() {
    return *impl_->model;
}

uint64_t image_hash(const cv::Mat& m) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a, 8 bytes at a time
    auto mix = [&](uint64_t v) {
        h ^= v;
        h *= 1099511628211ull;
    };
    mix(uint64_t(m.rows));
    mix(uint64_t(m.cols));
    mix(uint64_t(m.type()));
    for (int y = 0; y < m.rows; ++y) {
        const uint8_t* row = m.ptr<uint8_t>(y);
        const size_t n = size_t(m.cols) * m.elemSize();
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            std::memcpy(&v, row + i, 8);
            mix(v);
        }
        for (; i < n; ++i) mix(row[i]);
    }
    return h;
}

}  // namespace rc
