#!/bin/sh
# Style habit 10: functions that are easy to misuse are not used anywhere in src/.
pat='\b(gets|strcpy|sprintf|strcat|atoi|atol|strtok|rand|srand|vsprintf)[[:space:]]*\('
if grep -rnE "$pat" src/ ; then
    echo "check-banned: banned function used (see ../shared/style.md habit 10)"
    exit 1
fi
echo "check-banned: ok"
