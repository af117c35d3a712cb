{
    "$graph": [
        {
            "class": "Workflow",
            "label": "Upper-case a file then count its lines",
            "doc": "Two command-line steps wired through a File output.",
            "inputs": [
                {
                    "type": "int",
                    "default": 1,
                    "doc": "Minimum number of lines expected",
                    "id": "#main/min_lines"
                },
                {
                    "type": [
                        "null",
                        "string"
                    ],
                    "label": "Sample identifier",
                    "id": "#main/sample_id"
                },
                {
                    "type": [
                        "null",
                        {
                            "type": "array",
                            "items": "string"
                        }
                    ],
                    "id": "#main/tags"
                },
                {
                    "type": "File",
                    "doc": "Input text",
                    "id": "#main/text_file"
                }
            ],
            "steps": [
                {
                    "run": "#count.cwl",
                    "in": [
                        {
                            "source": "#main/upper/upper",
                            "id": "#main/count/text"
                        }
                    ],
                    "out": [
                        "#main/count/count"
                    ],
                    "id": "#main/count"
                },
                {
                    "run": "#upper.cwl",
                    "in": [
                        {
                            "source": "#main/text_file",
                            "id": "#main/upper/text"
                        }
                    ],
                    "out": [
                        "#main/upper/upper"
                    ],
                    "id": "#main/upper"
                }
            ],
            "id": "#main",
            "outputs": [
                {
                    "type": "File",
                    "outputSource": "#main/count/count",
                    "id": "#main/line_count"
                },
                {
                    "type": "File",
                    "outputSource": "#main/upper/upper",
                    "id": "#main/upper_text"
                }
            ]
        },
        {
            "class": "CommandLineTool",
            "label": "Count lines",
            "baseCommand": [
                "wc",
                "-l"
            ],
            "hints": [
                {
                    "dockerPull": "ubuntu:22.04",
                    "class": "DockerRequirement"
                }
            ],
            "inputs": [
                {
                    "type": "File",
                    "id": "#count.cwl/text"
                }
            ],
            "outputs": [
                {
                    "type": "File",
                    "id": "#count.cwl/count",
                    "outputBinding": {
                        "glob": "count.txt"
                    }
                }
            ],
            "stdin": "$(inputs.text.path)",
            "stdout": "count.txt",
            "id": "#count.cwl"
        },
        {
            "class": "CommandLineTool",
            "label": "Upper-case a text file",
            "baseCommand": [
                "tr",
                "[:lower:]",
                "[:upper:]"
            ],
            "hints": [
                {
                    "dockerPull": "ubuntu:22.04",
                    "class": "DockerRequirement"
                }
            ],
            "inputs": [
                {
                    "type": "File",
                    "streamable": true,
                    "id": "#upper.cwl/text"
                }
            ],
            "outputs": [
                {
                    "type": "File",
                    "id": "#upper.cwl/upper",
                    "outputBinding": {
                        "glob": "upper.txt"
                    }
                }
            ],
            "stdin": "$(inputs.text.path)",
            "stdout": "upper.txt",
            "id": "#upper.cwl"
        }
    ],
    "cwlVersion": "v1.2"
}
