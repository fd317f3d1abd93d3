// mingw-w64 builds only: the addon imports N-API from "node.exe" through a delay-load import
// library; this hook binds those imports to the host executable, whatever its file name
// (node-gyp's MSVC builds carry their own win_delay_load_hook.cc).
#include <windows.h>
#include <delayimp.h>
#include <string.h>

static FARPROC WINAPI confine_load_exe_hook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || _stricmp(info->szDll, "node.exe") != 0) return NULL;
  return (FARPROC)GetModuleHandleW(NULL);
}

// libmingwex defines the hook variable; set it before the first delay-loaded call.
__attribute__((constructor)) static void confine_install_hook(void) { __pfnDliNotifyHook2 = confine_load_exe_hook; }
