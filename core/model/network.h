// The network interface the engine drives without knowing the family: images become
// embeddings (as many rows as the network decides), a decoder runs over embeddings with a
// state it owns (a KV cache), and hidden states become logits.
//
// An encoder-decoder family (RegionVLM's FlanT5) says Architecture::EncoderDecoder: the engine
// then runs the whole prompt through encode_prompt() (its state keeps the encoder's output)
// and decodes from decoder_start_id() with forward(), one state per beam as for the others.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include "regionchat/error.h"

namespace rc {

/// What a network keeps between calls for one conversation (KV cache and friends).
class DecodeState {
public:
    virtual ~DecodeState() = default;
    /// Positions held.
    virtual int64_t length() const = 0;
    /// Forgets positions >= n (keeps memory).
    virtual void truncate(int64_t n) = 0;
    void clear() { truncate(0); }
    /// Makes room for `positions` positions at once, so the steps that follow write into
    /// storage allocated once (the engine reserves a turn's prompt plus its answer budget).
    /// Does nothing for states that grow otherwise.
    virtual void reserve(int64_t positions) { (void)positions; }
    /// A deep copy (beam search keeps one state per beam); nullptr when this network's state
    /// cannot be copied.
    virtual std::unique_ptr<DecodeState> clone() const { return nullptr; }
};

class Network {
public:
    enum class Architecture { DecoderOnly, EncoderDecoder };
    virtual ~Network() = default;
    virtual Architecture architecture() const { return Architecture::DecoderOnly; }

    /// Embeddings [tokens, hidden] of one 8-bit BGR image: the family's preprocessing, vision
    /// tower and projector. The number of rows is the network's to decide.
    virtual torch::Tensor encode_image(const cv::Mat& bgr) = 0;
    /// Rows for an image conditioned on a text (RegionVLM: the Q-Former reading a point
    /// string); rc::Error for networks without such an input.
    virtual torch::Tensor encode_image_with_text(const cv::Mat& bgr, const std::string& text);
    /// Rows [masks, hidden] for regions given as 8-bit masks (the image's size, non-zero
    /// inside) over one 8-bit BGR image without drawings: one row per mask (CoLVA's object
    /// tokens); rc::Error for networks without region tokens.
    virtual torch::Tensor encode_regions(const cv::Mat& bgr, const std::vector<cv::Mat>& masks);
    /// Token embeddings [1, T, hidden] of ids [1, T] (on the network's device).
    virtual torch::Tensor embed_tokens(const torch::Tensor& ids) = 0;
    /// An empty state for one conversation.
    virtual std::unique_ptr<DecodeState> new_state() = 0;
    /// Encoder-decoder only: runs the encoder over the prompt's embeddings [1, S, hidden] and
    /// makes `state` a fresh decoder state over its output.
    virtual void encode_prompt(const torch::Tensor& embeds, DecodeState& state);
    /// Encoder-decoder only: the token the decoder starts from.
    virtual int64_t decoder_start_id() const { return 0; }
    /// Runs embeddings [1, T, hidden] at positions [state.length(), + T) and appends them
    /// to `state`; returns the final hidden states [1, T, hidden]. (Encoder-decoder: the
    /// decoder's embeddings and positions.)
    virtual torch::Tensor forward(const torch::Tensor& embeds, DecodeState& state) = 0;
    /// Logits [..., vocab] of hidden states [..., hidden].
    virtual torch::Tensor logits(const torch::Tensor& hidden) = 0;

    virtual torch::Device device() const = 0;
    virtual int64_t max_positions() const = 0;
    virtual int64_t parameter_count() = 0;
    /// Keeps the language model's linear layers in int8 with a scale per output row (`--dtype
    /// int8` on the CPU; the rest stays fp32); rc::Error for networks without it.
    virtual void quantize_int8();
    /// Fuses projections that read the same input (q/k/v, gate/up) for inference; after
    /// loading and quantize_int8. Does nothing for networks without them.
    virtual void fuse_projections() {}
    /// Bytes of the parameters and buffers held (what the weights take in memory); 0 when
    /// the network does not count them (the loader's count of bytes read is used).
    virtual uint64_t weight_bytes() { return 0; }
    /// Bytes one decode step reads (the memory-bandwidth bound's divisor); weight_bytes()
    /// unless the network knows better.
    virtual uint64_t decode_weight_bytes() { return weight_bytes(); }
};

inline torch::Tensor Network::encode_image_with_text(const cv::Mat&, const std::string&) {
    throw Error("this model reads no text with its images");
}
inline torch::Tensor Network::encode_regions(const cv::Mat&, const std::vector<cv::Mat>&) {
    throw Error("this model reads no region tokens");
}
inline void Network::quantize_int8() {
    throw Error("int8 weights are for models whose language model is LLaMA-shaped (LLaVA, "
                "DualFocus, Pink, ParGo, InternVL2, CoLVA); this one runs in fp32 or bf16");
}
inline void Network::encode_prompt(const torch::Tensor&, DecodeState&) {
    throw Error("this model has no encoder");
}

}  // namespace rc
