#pragma once
// Targets of the second pass's model rounds (Options::refine_target = model): each frame as predicted
// from the other realigned frames by a low-rank temporal model.
#include <cstddef>
#include <vector>

namespace petpipe::realign::detail {

// On entry rows[k] holds frame k realigned to the reference space (`count` values); on return it holds
// that frame as predicted from the other frames. Rows are scaled by sqrt(duration) (noise roughly
// ~ 1/duration); the temporal basis is the leading eigenvectors of the frames' Gram matrix over `mask`
// (uncentred PCA), those whose eigenvalue exceeds 3x the noise level, at least one, at most
// `components`; the prediction of frame k is the least-squares fit of the other frames' values to that
// basis, evaluated at k (leave-one-out: y_k - (y_k - yhat_k) / (1 - h_kk)), so a frame's own position
// and noise do not enter its target. A frame that the basis cannot predict from the others (leverage
// h_kk > 0.9, e.g. a lone early frame) gets the duration-weighted mean of the others instead.
// mask (may be null): the values that enter the Gram matrix; predict (may be null): the values
// predicted (the others are left as they are). frame_numbers (1-based) only label the debug log.
void model_targets(const std::vector<float*>& rows, std::size_t count, const unsigned char* mask,
                   const unsigned char* predict, const std::vector<double>& durations, int components,
                   const std::vector<std::size_t>& frame_numbers);

}  // namespace petpipe::realign::detail
