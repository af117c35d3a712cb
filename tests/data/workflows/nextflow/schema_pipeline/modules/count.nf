process COUNT_LINES {
    tag "$sample"
    cpus 1
    memory '512 MB'
    publishDir "${params.outdir}/counts", mode: 'copy'

    input:
    tuple val(sample), path(reads)
    val min_length

    output:
    path "${sample}.tsv", emit: counts

    script:
    """
    n=\$(awk -v m=${min_length} 'length(\$0) >= m' ${reads} | wc -l | tr -d ' ')
    echo -e "${sample}\\t\$n" > ${sample}.tsv
    """
}
