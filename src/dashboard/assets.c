/*
 * assets.c -- the page and Chart.js, embedded in libmacho at build time so
 * that the dashboard needs no file and no network at run time.
 *
 * The bytes are pulled in by the assembler's .incbin, which needs no code
 * generator and so works the same in the CMake build and in the Python
 * extension's setup.py (which compiles src/ directly). CMake passes absolute
 * paths (MACHO_DASHBOARD_WWW, MACHO_CHARTJS) and marks this file as depending
 * on the assets; the defaults below suit a build run from python/.
 * Chart.js is Debian's libjs-chart.js (MIT licence, v3.9).
 */
#include "dashboard.h"

#ifndef MACHO_DASHBOARD_WWW
#define MACHO_DASHBOARD_WWW "../src/dashboard/www"
#endif
#ifndef MACHO_CHARTJS
#define MACHO_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"
#endif

/* Defines NAME and NAME_end around the bytes of FILE, NUL-terminated. */
#define EMBED(name, file)                                                                          \
  __asm__(".pushsection .rodata\n"                                                                 \
          ".globl " #name "\n.hidden " #name "\n"                                                  \
          ".globl " #name "_end\n.hidden " #name "_end\n"                                          \
          ".balign 16\n" #name ":\n"                                                               \
          ".incbin \"" file "\"\n" #name "_end:\n"                                                 \
          ".byte 0\n"                                                                              \
          ".popsection\n");                                                                        \
  extern const char name[], name##_end[]

EMBED(macho__www_index_html, MACHO_DASHBOARD_WWW "/index.html");
EMBED(macho__www_app_js, MACHO_DASHBOARD_WWW "/app.js");
EMBED(macho__www_style_css, MACHO_DASHBOARD_WWW "/style.css");
EMBED(macho__www_chart_js, MACHO_CHARTJS);

bool macho__asset_find(const char *path, size_t n, macho__asset *out) {
  const macho__asset assets[] = {
      {"/", "text/html; charset=utf-8", macho__www_index_html,
       (size_t)(macho__www_index_html_end - macho__www_index_html)},
      {"/static/app.js", "text/javascript; charset=utf-8", macho__www_app_js,
       (size_t)(macho__www_app_js_end - macho__www_app_js)},
      {"/static/style.css", "text/css; charset=utf-8", macho__www_style_css,
       (size_t)(macho__www_style_css_end - macho__www_style_css)},
      {"/static/chart.js", "text/javascript; charset=utf-8", macho__www_chart_js,
       (size_t)(macho__www_chart_js_end - macho__www_chart_js)},
  };
  if (n == 11 && memcmp(path, "/index.html", 11) == 0) {
    path = "/";
    n = 1;
  }
  for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
    if (strlen(assets[i].path) == n && memcmp(path, assets[i].path, n) == 0) {
      *out = assets[i];
      return true;
    }
  }
  return false;
}
