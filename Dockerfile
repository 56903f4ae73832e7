# Satwa's scoring service: docker build -t satwa . && docker run -p 8000:8000 -v satwa-data:/data satwa
FROM python:3.11-slim

# OpenCV (an Ultralytics dependency) needs these shared libraries.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/satwa
COPY pyproject.toml README.md ./
COPY app ./app
COPY training ./training
RUN pip install --no-cache-dir .

COPY datasets/taxonomy.yaml datasets/catalog.csv ./datasets/
COPY weights/satwa-detector.onnx weights/satwa-classifier.onnx ./weights/

ENV SATWA_DATABASE_URL=sqlite:////data/satwa.db \
    SATWA_EVIDENCE_DIR=/data/evidence \
    SATWA_HOST=0.0.0.0 \
    SATWA_PORT=8000 \
    YOLO_OFFLINE=1
VOLUME /data
EXPOSE 8000
CMD ["satwa", "serve"]
