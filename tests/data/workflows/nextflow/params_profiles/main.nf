#!/usr/bin/env nextflow
// Upper-case greetings and count their words.

params.greeting = 'Hello'
params.repeat = 2

process SAY {
    input:
    val name

    output:
    path "${name}.txt"

    script:
    """
    for i in \$(seq 1 ${params.repeat}); do echo "${params.greeting}, ${name}!"; done | tr '[:lower:]' '[:upper:]' > ${name}.txt
    """
}

process COUNT {
    publishDir "${params.outdir}", mode: 'copy'

    input:
    path texts

    output:
    path "words.txt"

    script:
    """
    cat ${texts} | wc -w | tr -d ' ' > words.txt
    """
}

workflow {
    names = Channel.fromList(params.names.tokenize(','))
    COUNT(SAY(names).collect())
    if (params.sample_label ?: false) {
        log.info "label: ${params.sample_label}"
    }
}
