/*
 * opts.c -- one option parser for every subcommand, and the texts generated
 * from the same tables: --help, the man page and the bash completion.
 *
 * The conventions are GNU getopt_long's (what users of coreutils, git and
 * curl expect): `--name value` and `--name=value`; `-x value`, `-xvalue` and
 * clustered flags `-qx`; `--` ends the options; `-` alone is an argument
 * (standard input); the last of a repeated option wins; -h/--help and
 * -V/--version anywhere. Unlike getopt, nothing is printed and nothing exits:
 * the parser returns a status and a message, so a command can validate all
 * of its input before its first line of output, and a fuzzer can call it.
 * An unknown option gets the closest known name as a suggestion.
 */
#include "cli.h"

#include <macho/macho.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

int cli_usage_error(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (errlen) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return CLI_USAGE;
}

static size_t count_options(const cli_spec *s) {
  size_t n = 0;
  while (s->options && s->options[n].name) n++;
  return n;
}

/* Edit distance (Levenshtein) of two short strings, capped at 9. */
static int distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 40 || lb > 40) return 9;
  int d[41][41];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb] > 9 ? 9 : d[la][lb];
}

static int unknown_option(const cli_spec *s, const char *arg, char *err, size_t errlen) {
  char name[64];
  size_t n = strcspn(arg, "=");
  snprintf(name, sizeof name, "%.*s", (int)(n < 60 ? n : 60), arg);
  const char *best = NULL;
  int best_d = 3; /* suggest only close names */
  const char *bare = name + strspn(name, "-");
  for (size_t i = 0; i < count_options(s); i++) {
    int d = distance(bare, s->options[i].name);
    if (d < best_d) best_d = d, best = s->options[i].name;
  }
  if (best)
    return cli_usage_error(err, errlen, "unknown option '%s' (did you mean '--%s'?)", name, best);
  return cli_usage_error(err, errlen, "unknown option '%s' (see 'macho %s --help')", name, s->name);
}

static bool in_choices(const char *choices, const char *v) {
  size_t n = strlen(v);
  for (const char *c = choices; *c;) {
    size_t len = strcspn(c, "|");
    if (len == n && strncmp(c, v, n) == 0) return true;
    c += len + (c[len] == '|');
  }
  return false;
}

/* Store `v` as the value of option o. */
static int set_value(const cli_option *o, const char *v, void *opts, char *err, size_t errlen) {
  char *field = (char *)opts + o->offset;
  switch (o->kind) {
  case CLI_FLAG:
    *(bool *)field = true;
    return CLI_OK;
  case CLI_STRING:
    if (!*v) return cli_usage_error(err, errlen, "--%s needs a non-empty value", o->name);
    *(const char **)field = v;
    return CLI_OK;
  case CLI_CHOICE:
    if (!in_choices(o->choices, v))
      return cli_usage_error(err, errlen, "--%s expects one of %s, got '%s'", o->name, o->choices, v);
    *(const char **)field = v;
    return CLI_OK;
  case CLI_U64: {
    char *end;
    errno = 0;
    unsigned long long x = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (*v < '0' || *v > '9' || *end || errno || (double)x < o->min || (double)x > o->max) {
      char max[32];
      if (o->max >= 18446744073709551615.0) snprintf(max, sizeof max, "18446744073709551615");
      else snprintf(max, sizeof max, "%.0f", o->max);
      return cli_usage_error(err, errlen, "--%s expects a whole number from %.0f to %s, got '%s'", o->name,
                             o->min, max, v);
    }
    *(uint64_t *)field = x;
    return CLI_OK;
  }
  case CLI_DOUBLE: {
    char *end;
    double x = *v ? strtod(v, &end) : NAN;
    if (!*v || *end || !isfinite(x) || x < o->min || x > o->max)
      return cli_usage_error(err, errlen, "--%s expects a number from %g to %g, got '%s'", o->name, o->min,
                             o->max, v);
    *(double *)field = x;
    return CLI_OK;
  }
  }
  return CLI_USAGE;
}

int cli_parse(const cli_spec *s, int argc, char **argv, void *opts, char *err, size_t errlen) {
  cli_base *b = opts;
  size_t nopts = count_options(s);
  if (errlen) err[0] = '\0';
  b->given = 0;
  b->nargs = 0;
  bool only_args = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!a) break;
    if (only_args || a[0] != '-' || !a[1]) { /* an argument ("-" is one: stdin) */
      if (b->nargs >= s->max_args || b->nargs >= CLI_MAX_ARGS)
        return cli_usage_error(err, errlen, "unexpected argument '%s'", a);
      b->args[b->nargs++] = a;
      continue;
    }
    if (!strcmp(a, "--")) {
      only_args = true;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return CLI_HELP;
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) return CLI_VERSION;
    if (a[1] == '-') { /* --name, --name=value, --name value */
      const char *name = a + 2, *eq = strchr(name, '=');
      size_t len = eq ? (size_t)(eq - name) : strlen(name);
      size_t k;
      for (k = 0; k < nopts; k++)
        if (strlen(s->options[k].name) == len && !strncmp(s->options[k].name, name, len)) break;
      if (k == nopts) return unknown_option(s, a, err, errlen);
      const cli_option *o = &s->options[k];
      const char *v;
      if (o->kind == CLI_FLAG) {
        if (eq) return cli_usage_error(err, errlen, "--%s takes no value (got '%s')", o->name, a);
        v = "";
      } else if (eq) {
        v = eq + 1;
      } else {
        if (i + 1 >= argc || !argv[i + 1]) return cli_usage_error(err, errlen, "--%s needs a value (%s)", o->name, o->metavar);
        v = argv[++i];
      }
      int rc = set_value(o, v, opts, err, errlen);
      if (rc != CLI_OK) return rc;
      b->given |= 1ull << k;
      continue;
    }
    /* -x, -xVALUE, -x VALUE, -abc (flags) */
    for (const char *c = a + 1; *c; c++) {
      size_t k;
      for (k = 0; k < nopts; k++)
        if (s->options[k].short_name && s->options[k].short_name == *c) break;
      if (k == nopts) {
        char one[3] = {'-', *c, 0};
        return unknown_option(s, one, err, errlen);
      }
      const cli_option *o = &s->options[k];
      b->given |= 1ull << k;
      if (o->kind == CLI_FLAG) {
        *(bool *)((char *)opts + o->offset) = true;
        continue;
      }
      const char *v = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) return cli_usage_error(err, errlen, "-%c needs a value (%s)", *c, o->metavar);
      int rc = set_value(o, v, opts, err, errlen);
      if (rc != CLI_OK) return rc;
      break; /* the value ended this argument */
    }
  }
  for (size_t k = 0; k < nopts; k++)
    if ((s->options[k].flags & CLI_REQUIRED) && !(b->given & (1ull << k)))
      return cli_usage_error(err, errlen, "--%s is required (%s)", s->options[k].name, s->options[k].help);
  if (b->nargs < s->min_args) {
    /* name the first missing argument from the synopsis ("URL KEY") */
    char want[64] = "";
    const char *p = s->args ? s->args : "";
    for (int n = 0; *p; n++) {
      p += strspn(p, " [");
      size_t len = strcspn(p, " ]");
      if (n == b->nargs) {
        snprintf(want, sizeof want, "%.*s", (int)len, p);
        break;
      }
      p += len;
      p += strspn(p, "]");
    }
    return cli_usage_error(err, errlen, "%s is required (usage: macho %s [OPTIONS] %s)", want, s->name,
                           s->args);
  }
  return CLI_OK;
}

int cli_prepare(const cli_spec *s, int argc, char **argv, void *opts, char *err, size_t errlen) {
  memcpy(opts, s->defaults, s->opts_size);
  int rc = cli_parse(s, argc, argv, opts, err, errlen);
  if (rc == CLI_OK && s->check) rc = s->check(opts, err, errlen);
  return rc;
}

bool cli_given(const cli_spec *s, const void *opts, const char *name) {
  const cli_base *b = opts;
  for (size_t k = 0; k < count_options(s); k++)
    if (!strcmp(s->options[k].name, name)) return (b->given >> k) & 1;
  return false;
}

/* ---- help ------------------------------------------------------------------ */

/* The default of option o as text, into buf; NULL when there is none to show. */
static const char *default_of(const cli_spec *s, const cli_option *o, char *buf, size_t n) {
  if (o->default_text) return o->default_text;
  if (o->flags & CLI_REQUIRED) return NULL;
  const char *field = (const char *)s->defaults + o->offset;
  switch (o->kind) {
  case CLI_FLAG: return NULL; /* off */
  case CLI_STRING:
  case CLI_CHOICE: {
    const char *v = *(const char *const *)field;
    if (!v) return NULL;
    snprintf(buf, n, "%s", v);
    return buf;
  }
  case CLI_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)field); return buf;
  case CLI_DOUBLE: snprintf(buf, n, "%g", *(const double *)field); return buf;
  }
  return NULL;
}

/* "-f, --format=FMT" */
static void option_label(const cli_option *o, char *buf, size_t n) {
  char shortp[8] = "    ";
  if (o->short_name) snprintf(shortp, sizeof shortp, "-%c, ", o->short_name);
  if (o->kind == CLI_FLAG) snprintf(buf, n, "%s--%s", shortp, o->name);
  else snprintf(buf, n, "%s--%s=%s", shortp, o->name, o->metavar);
}

/* Print text wrapped at `width` with `indent` spaces before every line after the first. */
static void wrap(FILE *f, const char *text, int col, int indent, int width) {
  const char *p = text;
  while (*p) {
    size_t w = strcspn(p, " \n");
    if (col > indent && col + 1 + (int)w > width) {
      fprintf(f, "\n%*s", indent, "");
      col = indent;
    } else if (col > indent) {
      fputc(' ', f);
      col++;
    }
    fprintf(f, "%.*s", (int)w, p);
    col += (int)w;
    p += w;
    if (*p == '\n' && p[1] == '\n') { /* paragraph break */
      fprintf(f, "\n\n%*s", indent, "");
      col = indent;
      p += 2;
    }
    p += strspn(p, " \n");
  }
  fputc('\n', f);
}

/* The option's help with its default appended. */
static void option_help(const cli_spec *s, const cli_option *o, char *buf, size_t n) {
  char def[128];
  const char *d = default_of(s, o, def, sizeof def);
  if (o->flags & CLI_REQUIRED) snprintf(buf, n, "%s (required)", o->help);
  else if (d) snprintf(buf, n, "%s (default: %s)", o->help, d);
  else if (o->kind == CLI_FLAG && strcmp(o->name, "help")) snprintf(buf, n, "%s (default: off)", o->help);
  else snprintf(buf, n, "%s", o->help);
}

void cli_print_help(FILE *f, const cli_spec *s) {
  fprintf(f, "macho %s -- %s\n\nusage: macho %s [OPTIONS]%s%s\n\n", s->name, s->summary, s->name,
          s->args && *s->args ? " " : "", s->args ? s->args : "");
  if (s->description) {
    wrap(f, s->description, 0, 0, 78);
    fputc('\n', f);
  }
  fprintf(f, "options:\n");
  for (size_t k = 0; k <= count_options(s); k++) {
    cli_option help = {"help", 'h', CLI_FLAG, 0, NULL, "show this help and exit", 0, 0, 0, NULL, NULL, NULL};
    const cli_option *o = k < count_options(s) ? &s->options[k] : &help;
    char label[96], text[512];
    option_label(o, label, sizeof label);
    option_help(s, o, text, sizeof text);
    int col = fprintf(f, "  %-24s", label);
    if (col > 26) {
      fprintf(f, "\n%26s", "");
      col = 26;
    }
    wrap(f, text, col, 26, 78);
  }
  if (s->examples) {
    fprintf(f, "\nexamples:\n");
    for (const char *p = s->examples; *p;) {
      size_t len = strcspn(p, "\n");
      fprintf(f, "  %.*s\n", (int)len, p);
      p += len + (p[len] == '\n');
    }
  }
}

/* ---- the man page ---------------------------------------------------------- */

/* roff-safe text: backslashes escaped, '-' as \- (a real minus, so that
 * options can be searched for and copied), a leading '.' or '\'' guarded. */
static void roff(FILE *f, const char *s, size_t n) {
  bool bol = true;
  for (size_t i = 0; i < n && s[i]; i++) {
    char c = s[i];
    if (bol && (c == '.' || c == '\'')) fputs("\\&", f);
    if (c == '\\') fputs("\\e", f);
    else if (c == '-') fputs("\\-", f);
    else fputc(c, f);
    bol = c == '\n';
  }
}

static void roff_s(FILE *f, const char *s) { roff(f, s, strlen(s)); }

static void roff_paragraphs(FILE *f, const char *text) {
  for (const char *p = text; *p;) {
    const char *brk = strstr(p, "\n\n");
    size_t len = brk ? (size_t)(brk - p) : strlen(p);
    char *para = strndup(p, len);
    if (para) {
      for (char *c = para; *c; c++)
        if (*c == '\n') *c = ' '; /* one input line per paragraph */
      fputs(".PP\n", f);
      roff_s(f, para);
      fputc('\n', f);
      free(para);
    }
    p += len;
    p += strspn(p, "\n");
  }
}

static void man_command(FILE *f, const cli_command *c) {
  const cli_spec *s = c->spec;
  fprintf(f, ".SS \"");
  roff_s(f, "macho ");
  roff_s(f, cli_command_name(c));
  if (s) {
    roff_s(f, " [OPTIONS]");
    if (s->args && *s->args) {
      fputc(' ', f);
      roff_s(f, s->args);
    }
  }
  fprintf(f, "\"\n");
  roff_s(f, cli_command_summary(c));
  fputs(".\n", f);
  if (!s) { /* a raw command: its usage text, verbatim */
    fputs(".PP\n.nf\n", f);
    roff_s(f, c->usage ? c->usage : "");
    fputs("\n.fi\n", f);
    return;
  }
  if (s->description) roff_paragraphs(f, s->description);
  for (size_t k = 0; k < count_options(s); k++) {
    const cli_option *o = &s->options[k];
    fputs(".TP\n", f);
    if (o->short_name) fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
    fputs("\\fB", f);
    roff_s(f, "--");
    roff_s(f, o->name);
    fputs("\\fR", f);
    if (o->kind != CLI_FLAG) {
      fputs("=\\fI", f);
      roff_s(f, o->metavar);
      fputs("\\fR", f);
    }
    fputc('\n', f);
    char text[512];
    option_help(s, o, text, sizeof text);
    roff_s(f, text);
    fputs(".\n", f);
  }
  if (s->examples) {
    fputs(".PP\nExamples:\n.PP\n.nf\n.RS\n", f);
    roff_s(f, s->examples);
    fputs("\n.RE\n.fi\n", f);
  }
}

void cli_print_man(FILE *f) {
  fprintf(f, ".\\\" macho.1 -- generated by `macho help --man` from the CLI's option tables; do not edit.\n");
  fprintf(f, ".TH MACHO 1 \"\" \"macho %s\" \"User Commands\"\n", macho_version_string());
  fputs(".SH NAME\nmacho \\- an in-memory cache: demo, simulate traces, inspect a running cache\n", f);
  fputs(".SH SYNOPSIS\n.B macho\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n.br\n"
        ".B macho help\n[\\fICOMMAND\\fR]\n.br\n.B macho\n\\fB\\-\\-version\\fR\n", f);
  fputs(".SH DESCRIPTION\n", f);
  roff_s(f, "macho is the command-line face of libmacho, a sharded, thread-safe in-memory cache with "
            "pluggable eviction policies, TTLs, membership filters, metrics and a live dashboard. "
            "Every command takes --help (or -h); options are written --name value, --name=value "
            "or, where a short form exists, -n value; -- ends the options.\n");
  fputs(".SH COMMANDS\n", f);
  for (size_t i = 0; cli_command_at(i); i++) man_command(f, cli_command_at(i));
  fputs(".SH EXIT STATUS\n.TP\n0\nsuccess\n.TP\n1\na runtime failure (unreadable or malformed trace, "
        "no connection, out of memory ...)\n.TP\n2\na usage error (unknown option, bad value, missing "
        "argument); nothing else was done\n", f);
  fputs(".SH ENVIRONMENT\n.TP\n.B MACHO_PROGRESS_DELAY\n", f);
  roff_s(f, "seconds after which macho sim starts drawing progress on a terminal (default 1.5)\n");
  fputs(".SH SEE ALSO\n", f);
  roff_s(f, "gnuplot(1); the README and docs/ of the macho sources; libCacheSim's cachesim, whose "
            "trace formats and byte-sized caches macho sim follows.\n");
}

/* ---- bash completion ------------------------------------------------------- */

static void words_policies(FILE *f, bool list) {
  for (int p = 0; p < MACHO_POLICY_COUNT; p++)
    if (macho_policy_available((macho_policy)p)) fprintf(f, "%s ", macho_policy_name((macho_policy)p));
  fprintf(f, list ? "belady all" : "all");
}

static void words_formats(FILE *f) {
  for (size_t i = 0; trace_format_at(i); i++) fprintf(f, "%s%s", i ? " " : "", trace_format_at(i)->name);
}

static void completion_values(FILE *f, const cli_option *o) {
  const char *c = o->complete;
  if (o->kind == CLI_CHOICE) {
    fprintf(f, "COMPREPLY=($(compgen -W \"");
    for (const char *p = o->choices; *p; p++) fputc(*p == '|' ? ' ' : *p, f);
    fprintf(f, "\" -- \"$cur\"))");
  } else if (c && !strcmp(c, "file")) {
    fprintf(f, "COMPREPLY=($(compgen -f -- \"$cur\"))");
  } else if (c && !strcmp(c, "formats")) {
    fprintf(f, "COMPREPLY=($(compgen -W \"");
    words_formats(f);
    fprintf(f, "\" -- \"$cur\"))");
  } else if (c && (!strcmp(c, "policies") || !strcmp(c, "policy"))) {
    bool list = !strcmp(c, "policies");
    fprintf(f, "_macho_list \"");
    words_policies(f, list);
    fprintf(f, "\" %d", list);
  } else {
    fprintf(f, "COMPREPLY=()"); /* a number or free text: nothing to offer */
  }
}

void cli_print_bash_completion(FILE *f) {
  fputs("# bash completion for macho -- generated by `macho help --bash-completion` from the\n"
        "# CLI's option tables (the same ones --help prints); do not edit.\n"
        "# Complete one word of a comma list (policies) or one word.\n"
        "_macho_list() {\n"
        "  local words=$1 list=$2 pre=\"\" last=$cur\n"
        "  if [[ $list == 1 && $cur == *,* ]]; then pre=${cur%,*},; last=${cur##*,}; fi\n"
        "  COMPREPLY=($(compgen -P \"$pre\" -W \"$words\" -- \"$last\"))\n"
        "}\n"
        "_macho() {\n"
        "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
        "  # bash splits --opt=value at '=': \"--opt\" \"=\" [\"value\"]\n"
        "  if [[ $cur == = ]]; then cur=\"\"\n"
        "  elif [[ $prev == = && $COMP_CWORD -ge 3 ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi\n"
        "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
        "    COMPREPLY=($(compgen -W \"", f);
  for (size_t i = 0; cli_command_at(i); i++) fprintf(f, "%s ", cli_command_name(cli_command_at(i)));
  fputs("--help --version\" -- \"$cur\")); return\n  fi\n  case ${COMP_WORDS[1]} in\n", f);
  for (size_t i = 0; cli_command_at(i); i++) {
    const cli_command *c = cli_command_at(i);
    fprintf(f, "  %s)\n", cli_command_name(c));
    const cli_spec *s = c->spec;
    if (!s) {
      fputs("    COMPREPLY=($(compgen -W \"--help\" -- \"$cur\"));;\n", f);
      continue;
    }
    fputs("    case $prev in\n", f);
    for (size_t k = 0; k < count_options(s); k++) {
      const cli_option *o = &s->options[k];
      if (o->kind == CLI_FLAG) continue;
      fprintf(f, "      --%s", o->name);
      if (o->short_name) fprintf(f, "|-%c", o->short_name);
      fputs(") ", f);
      completion_values(f, o);
      fputs("; return;;\n", f);
    }
    fputs("    esac\n    if [[ $cur == -* ]]; then\n      COMPREPLY=($(compgen -W \"", f);
    for (size_t k = 0; k < count_options(s); k++) {
      const cli_option *o = &s->options[k];
      fprintf(f, "--%s%s ", o->name, o->kind == CLI_FLAG ? "" : "=");
    }
    fputs("--help\" -- \"$cur\"))\n"
          "      # an option that takes a value: no space after its '='\n"
          "      [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null\n"
          "      return 0\n    fi\n", f);
    if (!strcmp(s->name, "help")) {
      fputs("    COMPREPLY=($(compgen -W \"", f);
      for (size_t j = 0; cli_command_at(j); j++) fprintf(f, "%s ", cli_command_name(cli_command_at(j)));
      fputs("\" -- \"$cur\"));;\n", f);
    } else if (s->max_args > 0 && s->args && strstr(s->args, "TRACE")) {
      fputs("    COMPREPLY=($(compgen -f -- \"$cur\"));;\n", f);
    } else {
      fputs("    COMPREPLY=();;\n", f);
    }
  }
  fputs("  esac\n}\ncomplete -F _macho macho\n", f);
}
