package io.modelpress.orchestrator;

import io.modelpress.pipeline.testing.DevStackResource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;

/** The REST API behind bearer tokens: no token or an unknown one is 401, a token without the role 403. */
@QuarkusTest
@TestProfile(ApiAuthTest.Tokens.class)
@WithTestResource(DevStackResource.class)
class ApiAuthTest {
    static final String READER = "reader-token-0123456789";
    static final String SUBMITTER = "submitter-token-0123456789";

    public static class Tokens implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("modelpress.api.tokens", "read:" + ApiAuth.hash(READER) + ",read+submit:" + ApiAuth.hash(SUBMITTER));
        }
    }

    private static String bearer(String token) {
        return "Bearer " + token;
    }

    @Test
    void callsWithoutAKnownTokenAreRefused() {
        given().get("/api/runs").then().statusCode(401).header("WWW-Authenticate", "Bearer")
                .body("code", equalTo("UNAUTHENTICATED")).body("message", containsString("Authorization: Bearer"));
        given().header("Authorization", bearer("not-a-token")).get("/api/runs").then().statusCode(401)
                .body("message", containsString("not one of this API's tokens"));
        given().header("Authorization", "Basic dXNlcjpwYXNz").get("/api/runs").then().statusCode(401);
        given().contentType(ContentType.JSON).body("{\"model\": \"incoming/x/model.onnx\"}").post("/api/runs").then().statusCode(401);
    }

    @Test
    void eachCallNeedsItsRole() {
        given().header("Authorization", bearer(READER)).get("/api/runs").then().statusCode(200);
        given().header("Authorization", bearer(READER)).get("/api/runs/no-such-run").then().statusCode(404);
        given().header("Authorization", bearer(READER)).contentType(ContentType.JSON).body("{\"model\": \"incoming/none/model.onnx\"}")
                .post("/api/runs").then().statusCode(403).body("code", equalTo("FORBIDDEN"))
                .body("message", containsString("needs the role 'submit'"));
        given().header("Authorization", bearer(READER)).delete("/api/runs/no-such-run").then().statusCode(403);

        // the submitter gets past the door: what it asks for is then judged on its merits
        given().header("Authorization", bearer(SUBMITTER)).contentType(ContentType.JSON).body("{\"model\": \"incoming/none/model.onnx\"}")
                .post("/api/runs").then().statusCode(not(equalTo(401))).statusCode(not(equalTo(403)));
        given().header("Authorization", bearer(SUBMITTER)).delete("/api/runs/no-such-run").then().statusCode(404);
    }

    @Test
    void probesAndScrapersNeedNoToken() {
        given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200);
    }

    @Test
    void aMalformedTokenEntryIsNamedWithoutItsValue() {
        assertThat(ApiAuth.parse(List.of("read+submit:" + ApiAuth.hash("x")))).hasSize(1);
        assertThatThrownBy(() -> ApiAuth.parse(List.of("read:" + ApiAuth.hash("x"), "read:secret-token")))
                .hasMessageContaining("entry 2").hasMessageNotContaining("secret-token");
        assertThatThrownBy(() -> ApiAuth.parse(List.of("owner:" + ApiAuth.hash("x")))).hasMessageContaining("unknown roles");
    }
}
