# Builds and runs the Cairn server. Used by docker-compose.yml.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY . .
RUN mvn -q -B -DskipTests package

FROM eclipse-temurin:17-jre
WORKDIR /app
COPY --from=build /src/server/target/cairn-server.jar /app/cairn-server.jar
ENV CAIRN_DATA_DIR=/data
# Reached from outside the container: every address. Without CAIRN_JWT_SECRET (dev tokens on) the
# server then refuses to start unless CAIRN_DEV_TOKENS_PUBLIC=true (docker-compose.yml's demo).
ENV CAIRN_HOST=0.0.0.0
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/app/cairn-server.jar"]
