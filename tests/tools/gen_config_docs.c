/*
 * gen_config_docs — print configs/defaults.ini (no argument) or configs/agent_types.ini
 * (argument "types") from the compiled schema.  `make config-docs` runs it; after adding or
 * changing a key, run it, then edit the help text in sim/core/config.c if the wording needs it.
 * tests/test_config.c checks the checked-in files against the schema either way.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/config.h"
int main(int argc, char **argv)
{
    const char *sec = NULL;
    (void)argv;
    if (argc > 1) { /* agent_types.ini */
        struct cfg c; cfg_init(&c);
        printf("; setm — agent type presets: the profile and trading parameters of each agent type of\n"
               "; the paper's Table 1.  An [agent.NAME] group takes every key it leaves at 'auto' from\n"
               "; its type's section here.  These are the compiled defaults (sim/core/config.c); a\n"
               "; scenario may override any of them with its own [type.NAME] section, e.g.\n"
               ";   [type.home_solar]\n;   pv_kwp = 7\n"
               "; Bids and forecast windows are Table 1's; generation and load figures are typical of\n"
               "; each kind of installation.  Keys are documented in configs/defaults.ini.\n"
               "; tests/test_config.c fails when this file and the compiled presets disagree.\n");
        for (int t = 0; t < CFG_AGENT_NTYPES; t++) {
            char *all = cfg_to_string(&c);
            char hdr[64]; snprintf(hdr, sizeof hdr, "[type.%s]\n", cfg_agent_type_name(t));
            char *p = strstr(all, hdr); char *end = strstr(p + 1, "\n["); if (!end) end = p + strlen(p) - 1;
            printf("\n%.*s", (int)(end - p), p);
            free(all);
        }
        return 0;
    }
    printf("; setm — every scenario key with its compiled default, unit and accepted values.\n"
           ";\n"
           "; A scenario file sets only what it changes; everything else takes the value shown here.\n"
           "; Each key is documented by the two comment lines above it: what it means, then\n"
           "; 'unit: ... | accepted: ...'.  tests/test_config.c fails when this file and the compiled\n"
           "; defaults (sim/core/config.c) disagree, so edit both together.\n"
           ";\n"
           "; Composition: a scenario may say `use = configs/a.ini, configs/b.ini` in [scenario]; those\n"
           "; files are applied first, in order, then the scenario's own keys, then `--set k=v`.\n");
    for (size_t i = 0; i < cfg_key_count(); i++) {
        struct cfg_key_info k; cfg_key_get(i, &k);
        int agent = !strcmp(k.section, "agent.*") || !strcmp(k.section, "profile");
        if (!sec || (strcmp(sec, k.section) && !(agent && (!strcmp(sec, "agent.*") || !strcmp(sec, "profile"))))) {
            if (agent)
                printf("\n; [agent.NAME] — a group of `count` agents sharing these parameters; a scenario\n"
                       "; has as many groups as it likes, each under its own NAME (letters, digits, _ -).\n"
                       "; Keys from min_bid on are profile keys: 'auto' takes the value of the group's\n"
                       "; type preset, a [type.NAME] section (configs/agent_types.ini lists them all);\n"
                       "; the same keys, without 'auto', may be set in [type.NAME] to change a preset.\n"
                       "; Shown commented out: this file defines no agents.\n;[agent.NAME]\n");
            else
                printf("\n[%s]\n", k.section);
            sec = k.section;
        }
        printf("; %s\n; unit: %s | accepted: %s\n%s%s = %s\n", k.help, *k.unit ? k.unit : "-", k.accepted, agent ? ";" : "", k.name, k.def);
    }
    return 0;
}
