#include "images_fixture.h"

namespace berth::imgtest {
namespace {}  // namespace
}  // namespace berth::imgtest
