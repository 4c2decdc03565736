# Cross build for 64-bit ARM Linux (Debian: g++-aarch64-linux-gnu, the arm64 -dev
# packages under multiarch, qemu-user to run the tests): scripts/build-arm64.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Tests (and gtest_discover_tests at build time) run under user-mode emulation.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
# pkg-config (pcre2, cpp-httplib) reads the arm64 .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
