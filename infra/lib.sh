# Sourced by infra/kafka.sh and infra/s3proxy.sh (which define log, die and need).
#
# fetch_jars POM LIBS JAR_GLOB WHAT: the runtime jars of POM copied from Maven Central into
# LIBS (a directory replaced whole, so an interrupted download never leaves half a set),
# unless LIBS already holds the set for this POM (its hash in LIBS/.complete) with a jar
# matching JAR_GLOB. WHAT names the software in messages.
fetch_jars() {
    local pom="$1" libs="$2" glob="$3" what="$4"
    local want have="" home tmp t0=$SECONDS jar
    want="$(sha256sum "$pom" | cut -d' ' -f1)"
    [ -f "$libs/.complete" ] && have="$(cat "$libs/.complete")"
    if [ "$have" = "$want" ] && compgen -G "$libs/$glob" >/dev/null; then
        return 0
    fi
    need mvn "needed once to fetch the $what jars from Maven Central"
    need java "Java 17+ is required to run $what"
    home="$(dirname "$libs")"
    mkdir -p "$home"
    rm -rf "$home"/libs.tmp.*    # leftovers of interrupted downloads
    tmp="$(mktemp -d "$home/libs.tmp.XXXXXX")"
    log "fetching $what jars with Maven into $libs (first run only; may take a few minutes)"
    if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
            -DoutputDirectory="$tmp" -DincludeScope=runtime >"$tmp.mvn.log" 2>&1; then
        tail -n 40 "$tmp.mvn.log" >&2 || true
        rm -rf "$tmp" "$tmp.mvn.log"
        die "mvn dependency:copy-dependencies failed (see above)"
    fi
    rm -f "$tmp.mvn.log"
    compgen -G "$tmp/$glob" >/dev/null || { rm -rf "$tmp"; die "mvn finished but copied no $glob"; }
    chmod 755 "$tmp"
    echo "$want" >"$tmp/.complete"
    rm -rf "$libs.old"
    [ -d "$libs" ] && mv "$libs" "$libs.old"
    mv "$tmp" "$libs"
    rm -rf "$libs.old"
    jar="$(compgen -G "$libs/$glob" | head -n 1)"
    log "jars ready (${jar##*/}, $((SECONDS - t0)) s)"
}
