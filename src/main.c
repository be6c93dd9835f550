/* main.c — CLI dispatch only: `fleetlake <command> [options]`. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        printf("fleetlake %s\n", FL_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: fleetlake <command>\n");
    return 2;
}
