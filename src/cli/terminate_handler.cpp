// The static (Termux) binary's handler for an exception nothing caught. It takes the place of
// libstdc++'s __gnu_cxx::__verbose_terminate_handler, whose definition would otherwise come from
// libstdc++.a with the whole C++ name demangler (__cxa_demangle, 47 KB) only to print the
// exception's type name: this one prints what() and aborts, as that one does. Built only into
// static binaries (src/cli/CMakeLists.txt); dynamic ones keep libstdc++'s.
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace __gnu_cxx {

void __verbose_terminate_handler() {
  static bool terminating = false;  // a second terminate (what() threw) just aborts
  if (!terminating) {
    terminating = true;
    if (std::exception_ptr e = std::current_exception()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::fprintf(stderr, "terminate called after throwing an exception\n  what():  %s\n", x.what());
      } catch (...) {
        std::fputs("terminate called after throwing an exception that is not a std::exception\n", stderr);
      }
    } else {
      std::fputs("terminate called without an active exception\n", stderr);
    }
  }
  std::abort();
}

}  // namespace __gnu_cxx
