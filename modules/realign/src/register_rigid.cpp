// register_rigid: the metric unit of settings.metric (backend.hpp).
#include "backend.hpp"

namespace petpipe::realign::detail {

RegistrationOutput register_rigid(const Image3D& fixed, const Image3D& moving, const Vec3& center,
                                  const Params& initial, const RegistrationSettings& settings) {
  switch (settings.metric) {
    case Metric::least_squares: return register_least_squares(fixed, moving, center, initial, settings);
    case Metric::local_lsq: return register_local_lsq(fixed, moving, center, initial, settings);
    case Metric::window_ncc: return register_window_ncc(fixed, moving, center, initial, settings);
    case Metric::mattes:
    case Metric::correlation:
    case Metric::lncc: break;
  }
  return register_itk(fixed, moving, center, initial, settings);
}

}  // namespace petpipe::realign::detail
