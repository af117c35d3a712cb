#!/usr/bin/env nextflow
/*
 * Count the reads of each sample and write a summary.
 * Parameters are described in nextflow_schema.json.
 */
nextflow.enable.dsl = 2

include { COUNT_LINES } from './modules/count'

workflow {
    samples = Channel
        .fromPath(params.input)
        .splitCsv(header: true)
        .map { row -> tuple(row.sample, file(row.reads)) }

    COUNT_LINES(samples, params.min_length)

    COUNT_LINES.out.counts
        .collectFile(name: "summary.tsv", storeDir: "${params.outdir}/summary")
}
