// The network interface the engine drives without knowing the family: images become
// embeddings (as many rows as the network decides), a decoder runs over embeddings with a
// state it owns (a KV cache), and hidden states become logits.
//
// Room for an encoder-decoder family (RegionVLM's FlanT5): its state holds the encoder's
// output and the decoder's cache; Architecture::EncoderDecoder tells the engine to run the
// prompt through encode_prompt() and to decode from decoder_start_embeddings(). Only
// decoder-only families exist today; the engine refuses the other kind with a clear message
// until it has that path.
#pragma once

#include <memory>

#include <torch/torch.h>
#include <opencv2/core.hpp>

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
    /// Token embeddings [1, T, hidden] of ids [1, T] (on the network's device).
    virtual torch::Tensor embed_tokens(const torch::Tensor& ids) = 0;
    /// An empty state for one conversation.
    virtual std::unique_ptr<DecodeState> new_state() = 0;
    /// Runs embeddings [1, T, hidden] at positions [state.length(), + T) and appends them
    /// to `state`; returns the final hidden states [1, T, hidden].
    virtual torch::Tensor forward(const torch::Tensor& embeds, DecodeState& state) = 0;
    /// Logits [..., vocab] of hidden states [..., hidden].
    virtual torch::Tensor logits(const torch::Tensor& hidden) = 0;

    virtual torch::Device device() const = 0;
    virtual int64_t max_positions() const = 0;
    virtual int64_t parameter_count() = 0;
};

}  // namespace rc
